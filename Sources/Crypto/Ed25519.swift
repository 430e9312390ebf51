internal import CSodium
import LockstepCore

/// An Ed25519 signing key (RFC 8032) through libsodium: the backup job signs envelopes with
/// it, and evidence logs seal their last record with it.
public struct Ed25519KeyPair: Sendable {
  public static let seedByteCount = 32
  public static let publicKeyByteCount = 32
  public static let signatureByteCount = 64

  public let publicKey: [UInt8]
  /// The 32-byte seed (RFC 8032's private key); everything else is derived from it.
  public let seed: SecretBytes
  private let expandedSecretKey: SecretBytes

  public static func generate() throws -> Ed25519KeyPair {
    try Ed25519KeyPair(seed: SecretBytes.random(count: seedByteCount))
  }

  public init(seed: SecretBytes) throws {
    try CryptoError.check(seed.count, Self.seedByteCount, "Ed25519 seed")
    var publicKey = [UInt8](repeating: 0, count: Self.publicKeyByteCount)
    expandedSecretKey = try SecretBytes.filled(count: 64) { secret in
      let status = try withSodium {
        seed.withUnsafeBytes { crypto_sign_seed_keypair(&publicKey, secret, secretBytes($0)) }
      }
      guard status == 0 else { throw CryptoError.library(function: "crypto_sign_seed_keypair") }
    }
    self.publicKey = publicKey
    self.seed = seed
  }

  public func signature(for message: UnsafeRawBufferPointer) -> [UInt8] {
    var signature = [UInt8](repeating: 0, count: Self.signatureByteCount)
    precondition(sodiumInitialised, "libsodium failed to initialise")
    expandedSecretKey.withUnsafeBytes { sk in
      _ = crypto_sign_detached(
        &signature, nil, bytes(message), UInt64(message.count), secretBytes(sk))
    }
    return signature
  }

  public func signature(for message: [UInt8]) -> [UInt8] {
    message.withUnsafeBytes { signature(for: $0) }
  }
}

public enum Ed25519 {
  /// Whether `signature` is `publicKey`'s signature of `message`. Malformed keys and
  /// signatures of the wrong length are simply invalid.
  public static func isValidSignature(
    _ signature: [UInt8], for message: UnsafeRawBufferPointer, publicKey: [UInt8]
  ) -> Bool {
    guard signature.count == Ed25519KeyPair.signatureByteCount,
      publicKey.count == Ed25519KeyPair.publicKeyByteCount, sodiumInitialised
    else { return false }
    return crypto_sign_verify_detached(
      signature, bytes(message), UInt64(message.count), publicKey) == 0
  }

  public static func isValidSignature(
    _ signature: [UInt8], for message: [UInt8], publicKey: [UInt8]
  ) -> Bool {
    message.withUnsafeBytes { isValidSignature(signature, for: $0, publicKey: publicKey) }
  }

  /// Throwing form for callers that want `CryptoError.invalidSignature`.
  public static func verify(_ signature: [UInt8], for message: [UInt8], publicKey: [UInt8])
    throws
  {
    guard isValidSignature(signature, for: message, publicKey: publicKey) else {
      throw CryptoError.invalidSignature
    }
  }
}
