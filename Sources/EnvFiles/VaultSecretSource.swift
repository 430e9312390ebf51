import LockstepCore
import Vault

/// `env render` reading from the Vault client: `MOUNT/PATH`, KV v1 or v2 alike.
public struct VaultSecretSource: SecretSource {
  public let client: VaultClient

  public init(client: VaultClient) { self.client = client }

  public func read(_ path: String) async throws -> [(name: String, value: SecretBytes)] {
    try await client.read(path).data.entries.map { (name: $0.key, value: $0.value) }
  }
}
