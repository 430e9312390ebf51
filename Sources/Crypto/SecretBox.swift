internal import CSodium
import LockstepCore

/// Symmetric authenticated encryption (libsodium `crypto_secretbox`, XSalsa20-Poly1305) with
/// a 24-byte nonce that is safe to pick at random.
public enum SecretBox {
  public static let keyByteCount = 32
  public static let nonceByteCount = 24
  public static let tagByteCount = 16

  /// Returns nonce || ciphertext || tag. `nonce` is for test vectors only; by default a
  /// random one is used.
  public static func seal(_ message: SecretBytes, key: SecretBytes, nonce: [UInt8]? = nil)
    throws -> [UInt8]
  {
    try CryptoError.check(key.count, keyByteCount, "secretbox key")
    let nonce = nonce ?? CryptoRandom.bytes(count: nonceByteCount)
    try CryptoError.check(nonce.count, nonceByteCount, "secretbox nonce")
    var output = nonce + [UInt8](repeating: 0, count: message.count + tagByteCount)
    let status = try withSodium {
      output.withUnsafeMutableBufferPointer { out in
        message.withUnsafeBytes { m in
          key.withUnsafeBytes { k in
            crypto_secretbox_easy(
              out.baseAddress! + nonceByteCount, bytes(m), UInt64(m.count), nonce, secretBytes(k))
          }
        }
      }
    }
    guard status == 0 else { throw CryptoError.library(function: "crypto_secretbox_easy") }
    return output
  }

  public static func open(_ sealed: [UInt8], key: SecretBytes) throws -> SecretBytes {
    try CryptoError.check(key.count, keyByteCount, "secretbox key")
    guard sealed.count >= nonceByteCount + tagByteCount else {
      throw CryptoError.authenticationFailed
    }
    let count = sealed.count - nonceByteCount - tagByteCount
    return try SecretBytes.filled(count: count) { out in
      let status = try withSodium {
        sealed.withUnsafeBufferPointer { s in
          key.withUnsafeBytes { k in
            crypto_secretbox_open_easy(
              out, s.baseAddress! + nonceByteCount, UInt64(count + tagByteCount),
              s.baseAddress!, secretBytes(k))
          }
        }
      }
      guard status == 0 else { throw CryptoError.authenticationFailed }
    }
  }
}
