internal import CSodium
import LockstepCore

/// An X25519 key pair (libsodium `crypto_box`): the identity that opens backups made for
/// its public key.
public struct X25519KeyPair: Sendable {
  public static let keyByteCount = 32

  public let publicKey: [UInt8]
  public let secretKey: SecretBytes

  public static func generate() throws -> X25519KeyPair {
    try X25519KeyPair(secretKey: SecretBytes.random(count: keyByteCount))
  }

  /// Rebuilds the pair from a stored secret key; the public key is derived, never trusted.
  public init(secretKey: SecretBytes) throws {
    try CryptoError.check(secretKey.count, Self.keyByteCount, "X25519 secret key")
    var publicKey = [UInt8](repeating: 0, count: Self.keyByteCount)
    let status = try withSodium {
      secretKey.withUnsafeBytes { crypto_scalarmult_base(&publicKey, secretBytes($0)) }
    }
    guard status == 0 else { throw CryptoError.library(function: "crypto_scalarmult_base") }
    self.publicKey = publicKey
    self.secretKey = secretKey
  }
}
