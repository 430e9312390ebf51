import LockstepCore
import Vault

/// `SecretStore` on the real Vault client (KV v2).
public struct VaultSecretStore: SecretStore {
  let client: VaultClient

  public init(client: VaultClient) { self.client = client }

  public func read(_ path: String) async throws -> VersionedSecret? {
    do {
      let secret = try await client.read(path)
      var values: [String: SecretBytes] = [:]
      for (key, value) in secret.data { values[key] = value }
      return VersionedSecret(
        version: secret.version ?? 0, values: values, jsonKeys: secret.data.jsonKeys)
    } catch let error as VaultError {
      switch error {
      case .notFound, .versionDeleted, .versionDestroyed: return nil
      default: throw error
      }
    }
  }

  public func write(
    _ path: String, _ values: [String: SecretBytes], cas: Int, jsonKeys: Set<String>
  ) async throws -> Int {
    var map = SecretMap()
    for key in values.keys.sorted() {
      if jsonKeys.contains(key) { map.setJSON(key, values[key]!) } else { map[key] = values[key] }
    }
    do {
      guard let version = try await client.write(path, map, cas: cas) else {
        throw UserError("\(path) is on a KV v1 mount; rotation needs KV v2 for check-and-set")
      }
      return version
    } catch let error as VaultError {
      if case .casMismatch = error { throw StoreConflict(path: path) }
      throw error
    }
  }

  public func destroy(_ path: String) async throws {
    do { try await client.deleteAllVersions(path) } catch let error as VaultError {
      if case .notFound = error { return }
      throw error
    }
  }

  public func missingRights(secret: String, staging: String, lock: String) async throws
    -> [String]
  {
    var needs: [(api: String, rights: [String], path: String)] = []
    for (path, isLive) in [(secret, true), (staging, false), (lock, false)] {
      guard let api = try await client.kv2APIPaths(path) else {
        return ["\(path) is not on a KV version 2 mount; rotation needs check-and-set"]
      }
      if isLive {
        needs.append((api.data, ["read", "update"], path))
      } else {
        needs.append((api.data, ["create", "read", "update"], path))
        needs.append((api.metadata, ["delete"], path))
      }
    }
    let granted = try await client.capabilities(apiPaths: needs.map(\.api))
    return needs.compactMap { need in
      let have = granted[need.api] ?? []
      if have.contains("root") { return nil }
      let missing = need.rights.filter { !have.contains($0) }
      return missing.isEmpty
        ? nil
        : "the Vault token may not \(missing.joined(separator: " or ")) \(need.api) (for \(need.path))"
    }
  }
}
