import Vault

/// Key names of a KV secret through the Vault client; the values it had to read are
/// dropped here and never leave this call.
public struct VaultKeySource: SecretKeySource {
  public let client: VaultClient

  public init(client: VaultClient) { self.client = client }

  public func keyNames(_ path: String) async throws -> [String] {
    try await client.read(path).data.keys
  }
}
