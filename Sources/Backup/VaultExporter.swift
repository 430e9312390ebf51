import Foundation
import HTTP
import LockstepCore
import Vault

/// Reads everything a backup holds from Vault: lists run through the Vault client's walk,
/// reads go `parallelism` at a time over its kept-alive connections.
public struct VaultExporter: Sendable {
  public struct Scope: Sendable {
    /// KV mounts, e.g. `secret` or `secret/`.
    public var mounts: [String]
    /// Below each mount, e.g. `aura/`; empty for everything.
    public var prefix: String
    /// Every version with metadata, including deleted and destroyed ones.
    public var allVersions: Bool

    public init(mounts: [String], prefix: String = "", allVersions: Bool = false) {
      self.mounts = mounts
      self.prefix = prefix
      self.allVersions = allVersions
    }
  }

  public let vault: VaultClient
  public let parallelism: Int

  public init(vault: VaultClient, parallelism: Int? = nil) {
    self.vault = vault
    self.parallelism = parallelism ?? max(1, vault.configuration.parallelism)
  }

  public func export(_ scope: Scope, created: Date = Date()) async throws -> BackupPayload {
    var sources: [BackupPayload.Header.Source] = []
    var metadata: [BackupPayload.Metadata] = []
    var secrets: [BackupPayload.Secret] = []
    let prefix = scope.prefix.split(separator: "/").joined(separator: "/")
    for mountName in scope.mounts {
      let mount = try await vault.mount(for: mountName)
      let folderPrefix = prefix.isEmpty ? "" : prefix + "/"
      sources.append(.init(mount: mount.path, kvVersion: mount.kvVersion, prefix: folderPrefix))
      let paths = try await vault.walk(mount.path + folderPrefix)
      let relative = paths.map { String($0.dropFirst(mount.path.count)) }
      let history = scope.allVersions && mount.kvVersion == 2
      let results = try await parallelMap(relative) { path in
        try await history
          ? self.exportHistory(mount: mount, path: path)
          : self.exportLatest(mount: mount, path: path)
      }
      for (entryMetadata, entrySecrets) in results {
        if let entryMetadata { metadata.append(entryMetadata) }
        secrets += entrySecrets
      }
    }
    let header = BackupPayload.Header(
      created: BackupName.iso8601(created), vaultAddress: vault.configuration.address,
      sources: sources, allVersions: scope.allVersions)
    return BackupPayload(header: header, metadata: metadata, secrets: secrets)
  }

  private func exportLatest(mount: VaultMount, path: String) async throws
    -> (BackupPayload.Metadata?, [BackupPayload.Secret])
  {
    // A path whose latest version is deleted or destroyed has nothing to read; without
    // --all-versions it is left out, as `vault kv get` would fail on it.
    guard let secret = try await RawKV.read(vault, mount: mount, path: path, version: nil) else {
      return (nil, [])
    }
    return (nil, [secret])
  }

  private func exportHistory(mount: VaultMount, path: String) async throws
    -> (BackupPayload.Metadata?, [BackupPayload.Secret])
  {
    let meta = try await vault.metadata(mount.path + path)
    let record = BackupPayload.Metadata(
      mount: mount.path, path: path, currentVersion: meta.currentVersion,
      oldestVersion: meta.oldestVersion, maxVersions: meta.maxVersions,
      casRequired: meta.casRequired, deleteVersionAfter: nil,
      customMetadata: meta.customMetadata,
      versions: meta.versions.map {
        .init(
          version: $0.version, createdTime: $0.createdTime, deletionTime: $0.deletionTime,
          destroyed: $0.destroyed)
      })
    var secrets: [BackupPayload.Secret] = []
    for version in meta.versions {
      let state: BackupPayload.State =
        version.destroyed ? .destroyed : version.isDeleted ? .deleted : .live
      if state == .live,
        let secret = try await RawKV.read(vault, mount: mount, path: path, version: version.version)
      {
        secrets.append(secret)
      } else {
        // Deleted (or deleted between metadata and read) and destroyed versions keep their
        // place and state so that a restore recreates the same numbering.
        secrets.append(
          BackupPayload.Secret(
            mount: mount.path, path: path, kvVersion: 2, version: version.version,
            createdTime: version.createdTime, customMetadata: [:],
            state: state == .live ? .deleted : state, data: nil))
      }
    }
    return (record, secrets)
  }

  /// Maps with at most `parallelism` calls in flight, results in input order.
  private func parallelMap<T: Sendable>(
    _ items: [String], _ body: @escaping @Sendable (String) async throws -> T
  ) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
      var results = [T?](repeating: nil, count: items.count)
      var next = 0
      while next < min(parallelism, items.count) {
        let index = next
        group.addTask { (index, try await body(items[index])) }
        next += 1
      }
      while let (index, value) = try await group.next() {
        results[index] = value
        if next < items.count {
          let index = next
          group.addTask { (index, try await body(items[index])) }
          next += 1
        }
      }
      return results.map { $0! }
    }
  }
}
