import Foundation
import HTTP
import LockstepCore

extension VaultClient {
  /// The token's capabilities on raw API paths (`sys/capabilities-self`); `root` means all.
  /// Used before a workflow starts, so that a missing right stops it before any change.
  public func capabilities(apiPaths: [String]) async throws -> [String: [String]] {
    let body = try JSONSerialization.data(withJSONObject: ["paths": apiPaths])
    let response = try await request(
      .post, "sys/capabilities-self", body: .text(String(decoding: body, as: UTF8.self)))
    guard response.isSuccess,
      let root = try JSONSerialization.jsonObject(with: Data(response.text.utf8))
        as? [String: Any]
    else { throw UserError("Vault's sys/capabilities-self did not answer with JSON") }
    let data = root["data"] as? [String: Any] ?? root
    var result: [String: [String]] = [:]
    for path in apiPaths {
      result[path] = (data[path] as? [String]) ?? (root[path] as? [String]) ?? []
    }
    return result
  }

  /// The KV v2 `data/` and `metadata/` API paths of `mount/path`, or nil on a mount that is
  /// not KV version 2.
  public func kv2APIPaths(_ path: String) async throws -> (data: String, metadata: String)? {
    let kv = try await onPool { client in try self.resolveKV(client, path) }
    guard kv.mount.kvVersion == 2 else { return nil }
    return (kv.api("data"), kv.api("metadata"))
  }
}
