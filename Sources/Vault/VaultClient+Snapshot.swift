import Foundation
import HTTP
import LockstepCore

/// Whole-cluster snapshots of integrated storage (Raft): everything the cluster holds,
/// including Transit keys, auth methods and policies, which a KV walk cannot see.
extension VaultClient {
  /// What the cluster says about itself, recorded in a snapshot backup's header and shown
  /// before a restore.
  public struct ClusterIdentity: Sendable, Codable, Equatable {
    public var version: String
    public var clusterName: String
    public var clusterID: String

    enum CodingKeys: String, CodingKey {
      case version
      case clusterName = "cluster_name"
      case clusterID = "cluster_id"
    }
  }

  /// `sys/health`'s version, cluster name and id (no token needed).
  public func clusterIdentity() async throws -> ClusterIdentity {
    try await onPool { client in
      let call = Call(
        .get, "sys/health", query: "standbyok=true&sealedcode=200&uninitcode=200",
        authenticated: false)
      let response = try self.perform(client, call)
      return response.body.withUnsafeBytes { bytes in
        let root = try? JSONParser.parse(bytes)
        return ClusterIdentity(
          version: root?["version"]?.text(in: bytes) ?? "",
          clusterName: root?["cluster_name"]?.text(in: bytes) ?? "",
          clusterID: root?["cluster_id"]?.text(in: bytes) ?? "")
      }
    }
  }

  /// `GET sys/storage/raft/snapshot`: the gzip'd snapshot (every secret of the cluster,
  /// encrypted by the barrier, plus the keyring), handed to `consume` piece by piece as it
  /// arrives (on an HTTP thread, which may block), so that a snapshot of any size is never
  /// held in memory, and is not subject to `maxResponseBytes`. No total timeout: the
  /// transfer stops when it stalls for `stallTimeout`. Returns the number of bytes.
  ///
  /// A server on another storage backend answers 404 or 400 ("raft storage is not in
  /// use"); that becomes one sentence saying snapshots need integrated storage.
  @discardableResult
  public func raftSnapshot(
    stallTimeout: Duration = .seconds(120),
    into consume: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
  ) async throws -> Int {
    try await onPool { client in
      let counter = ByteCounter()
      var call = Call(.get, "sys/storage/raft/snapshot")
      call.capability = "read"
      call.stallTimeout = stallTimeout
      call.consumer = { bytes in
        try consume(bytes)
        counter.add(bytes.count)
      }
      let response = try self.send(client, call)
      if response.isSuccess { return counter.total }
      let errors = Self.errors(in: response)
      if [400, 404, 405, 500].contains(response.status),
        errors.isEmpty || errors.contains(where: { $0.lowercased().contains("raft") })
      {
        throw VaultError.server(
          status: response.status, path: "sys/storage/raft/snapshot",
          errors: ["snapshots need integrated storage (storage \"raft\")"] + errors)
      }
      throw try self.error(
        for: response, call, client: client, displayPath: "sys/storage/raft/snapshot")
    }
  }

  /// `POST sys/storage/raft/snapshot-force`: replaces the whole cluster's state with the
  /// snapshot's. `force` skips the check that the snapshot was taken with this cluster's
  /// unseal keys (needed to restore into a newly initialised cluster, which must then be
  /// unsealed with the keys of the cluster the snapshot came from).
  public func restoreRaftSnapshot(_ snapshot: SecretBytes, force: Bool) async throws {
    let path = force ? "sys/storage/raft/snapshot-force" : "sys/storage/raft/snapshot"
    try await onPool { client in
      let call = Call(
        .post, path, body: .secret(snapshot), contentType: "application/octet-stream",
        capability: "update")
      try self.perform(client, call)
    }
  }
}

/// Bytes consumed by a streamed call; touched only by the thread performing it.
private final class ByteCounter: @unchecked Sendable {
  private(set) var total = 0
  func add(_ count: Int) { total += count }
}
