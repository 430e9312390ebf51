internal import CSodium
import LockstepCore

/// Anonymous public-key encryption (libsodium `crypto_box_seal`): anyone with the public
/// key can seal, only the secret key opens, and the sender needs no key of its own.
public enum SealedBox {
  /// 32-byte ephemeral public key plus the 16-byte Poly1305 tag.
  public static let overhead = 48

  /// Seals `message` for `publicKey`. With `ephemeralSeed` (tests and test vectors only) the
  /// ephemeral key pair comes from the seed, so the output is reproducible; it is built
  /// exactly as `crypto_box_seal` builds it and opens with `crypto_box_seal_open`.
  public static func seal(
    _ message: SecretBytes, to publicKey: [UInt8], ephemeralSeed: SecretBytes? = nil
  ) throws -> [UInt8] {
    try CryptoError.check(publicKey.count, X25519KeyPair.keyByteCount, "X25519 public key")
    var output = [UInt8](repeating: 0, count: message.count + overhead)
    guard let seed = ephemeralSeed else {
      let status = try withSodium {
        message.withUnsafeBytes { m in
          crypto_box_seal(&output, bytes(m), UInt64(m.count), publicKey)
        }
      }
      guard status == 0 else { throw CryptoError.library(function: "crypto_box_seal") }
      return output
    }
    try CryptoError.check(seed.count, 32, "ephemeral seed")
    var ephemeralPublic = [UInt8](repeating: 0, count: 32)
    let ephemeralSecret = try SecretBytes.filled(count: 32) { secret in
      let status = try withSodium {
        seed.withUnsafeBytes { crypto_box_seed_keypair(&ephemeralPublic, secret, secretBytes($0)) }
      }
      guard status == 0 else { throw CryptoError.library(function: "crypto_box_seed_keypair") }
    }
    // nonce = BLAKE2b-192(ephemeral public key || recipient public key), as libsodium does.
    var nonce = [UInt8](repeating: 0, count: 24)
    let input = ephemeralPublic + publicKey
    _ = crypto_generichash(&nonce, 24, input, UInt64(input.count), nil, 0)
    let status = output.withUnsafeMutableBufferPointer { out in
      for index in 0..<32 { out[index] = ephemeralPublic[index] }
      return message.withUnsafeBytes { m in
        ephemeralSecret.withUnsafeBytes { esk in
          crypto_box_easy(
            out.baseAddress! + 32, bytes(m), UInt64(m.count), nonce, publicKey, secretBytes(esk))
        }
      }
    }
    guard status == 0 else { throw CryptoError.library(function: "crypto_box_easy") }
    return output
  }

  /// Opens a sealed box; `authenticationFailed` when it was not sealed for this key pair or
  /// was altered.
  public static func open(_ sealed: [UInt8], with keyPair: X25519KeyPair) throws -> SecretBytes {
    guard sealed.count >= overhead else { throw CryptoError.authenticationFailed }
    return try SecretBytes.filled(count: sealed.count - overhead) { out in
      let status = try withSodium {
        keyPair.secretKey.withUnsafeBytes { sk in
          crypto_box_seal_open(
            out, sealed, UInt64(sealed.count), keyPair.publicKey, secretBytes(sk))
        }
      }
      guard status == 0 else { throw CryptoError.authenticationFailed }
    }
  }
}
