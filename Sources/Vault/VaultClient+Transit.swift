import HTTP
import LockstepCore

/// Vault's Transit engine, as backups use it: a Transit key wraps a backup's file key, so
/// that whoever may call `decrypt` on that key may open the backup. The key travels only
/// inside wiping buffers (base64 in the request body, base64 in the answer).
extension VaultClient {
  /// `MOUNT/encrypt/KEY` of `plaintext`: the ciphertext Vault returns (`vault:v1:…`), nil
  /// when its answer holds none.
  public func transitEncrypt(mount: String, key: String, plaintext: SecretBytes) async throws
    -> String?
  {
    let body = SecretJSON.object([("plaintext", .secretBase64(plaintext))]).render()
    let response = try await request(.post, "\(mount)/encrypt/\(key)", body: .secret(body))
    return Self.string(at: ["data", "ciphertext"], in: response)?.unsafeUTF8String()
  }

  /// `MOUNT/decrypt/KEY` of `ciphertext`: the plaintext, base64-decoded into secret bytes;
  /// nil when Vault gives none (no right, another key, a ciphertext it refuses).
  public func transitDecrypt(mount: String, key: String, ciphertext: String) async throws
    -> SecretBytes?
  {
    let body = SecretJSON.object([("ciphertext", .string(ciphertext))]).render()
    let response = try await request(.post, "\(mount)/decrypt/\(key)", body: .secret(body))
    return Self.string(at: ["data", "plaintext"], in: response)?
      .withUnsafeBytes { Base64.decode($0) }
  }
}
