import LockstepCore
import Vault

/// `SecretStore` on the real Vault client (KV v2).
public struct VaultSecretStore: SecretStore {
  let client: VaultClient

  public init(client: VaultClient) { self.client = client }

  public func read(_ path: String) throws -> VersionedSecret? {
    let client = self.client
    do {
      let secret = try runBlocking { try await client.read(path) }
      var values: [String: SecretBytes] = [:]
      for (key, value) in secret.data { values[key] = value }
      return VersionedSecret(version: secret.version ?? 0, values: values)
    } catch let error as VaultError {
      switch error {
      case .notFound, .versionDeleted, .versionDestroyed: return nil
      default: throw error
      }
    }
  }

  public func write(_ path: String, _ values: [String: SecretBytes], cas: Int) throws -> Int {
    let client = self.client
    let map = SecretMap(values.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
    do {
      guard let version = try runBlocking({ try await client.write(path, map, cas: cas) }) else {
        throw UserError("\(path) is on a KV v1 mount; rotation needs KV v2 for check-and-set")
      }
      return version
    } catch let error as VaultError {
      if case .casMismatch = error { throw StoreConflict(path: path) }
      throw error
    }
  }

  public func destroy(_ path: String) throws {
    let client = self.client
    do { try runBlocking { try await client.deleteAllVersions(path) } } catch let error
      as VaultError
    {
      if case .notFound = error { return }
      throw error
    }
  }
}
