internal import COpenSSL
import LockstepCore

/// The primitives behind `openssl enc -aes-256-cbc -salt [-md md5|sha256] [-pbkdf2]`, which
/// the runbook used for its backups: only decryption, so those files can be opened and
/// their contents moved into the envelope format.
public enum LegacyOpenSSL {
  /// The digest of `EVP_BytesToKey`: md5 was `openssl enc`'s default before 1.1.0, sha256
  /// after it.
  public enum Digest: String, Sendable, CaseIterable {
    case md5, sha256
  }

  /// `openssl enc -pbkdf2`'s default iteration count.
  public static let defaultPBKDF2Iterations = 10_000

  /// A 32-byte key and a 16-byte IV derived from a passphrase.
  public struct KeyAndIV: Sendable {
    public let key: SecretBytes
    public let iv: SecretBytes
  }

  /// OpenSSL's original key derivation (one iteration of the digest, chained).
  public static func bytesToKey(passphrase: SecretBytes, salt: [UInt8], digest: Digest) throws
    -> KeyAndIV
  {
    try CryptoError.check(salt.count, 8, "openssl enc salt")
    let md = digest == .md5 ? EVP_md5() : EVP_sha256()
    let material = try SecretBytes.filled(count: 48) { out in
      var iv = [UInt8](repeating: 0, count: 16)
      defer { SecretBytes.wipe(&iv) }
      let length = passphrase.withUnsafeBytes { pass in
        EVP_BytesToKey(EVP_aes_256_cbc(), md, salt, bytes(pass), Int32(pass.count), 1, out, &iv)
      }
      guard length == 32 else { throw CryptoError.library(function: "EVP_BytesToKey") }
      for index in 0..<16 { out[32 + index] = iv[index] }
    }
    return split(material)
  }

  /// `openssl enc -pbkdf2`: PBKDF2-HMAC-SHA256 producing key and IV together.
  public static func pbkdf2(
    passphrase: SecretBytes, salt: [UInt8], iterations: Int = defaultPBKDF2Iterations
  ) throws -> KeyAndIV {
    split(try pbkdf2SHA256(passphrase: passphrase, salt: salt, iterations: iterations, count: 48))
  }

  /// PBKDF2-HMAC-SHA256 (RFC 8018).
  public static func pbkdf2SHA256(
    passphrase: SecretBytes, salt: [UInt8], iterations: Int, count: Int
  ) throws -> SecretBytes {
    try SecretBytes.filled(count: count) { out in
      let status = passphrase.withUnsafeBytes { pass in
        PKCS5_PBKDF2_HMAC(
          pass.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(pass.count), salt,
          Int32(salt.count), Int32(iterations), EVP_sha256(), Int32(count), out)
      }
      try openSSLCheck(status, "PKCS5_PBKDF2_HMAC")
    }
  }

  /// AES-256-CBC decryption with PKCS#7 padding removal. Throws `authenticationFailed` when
  /// the padding is invalid, which is how a wrong passphrase usually shows (CBC has no tag,
  /// so about 1 in 256 wrong keys still gives valid padding: callers check the plaintext).
  public static func decryptAES256CBC(_ ciphertext: [UInt8], key: SecretBytes, iv: SecretBytes)
    throws -> SecretBytes
  {
    try CryptoError.check(key.count, 32, "AES-256-CBC key")
    try CryptoError.check(iv.count, 16, "AES-256-CBC IV")
    guard !ciphertext.isEmpty, ciphertext.count % 16 == 0 else {
      throw CryptoError.authenticationFailed
    }
    guard let context = EVP_CIPHER_CTX_new() else {
      throw CryptoError.library(function: "EVP_CIPHER_CTX_new")
    }
    defer { EVP_CIPHER_CTX_free(context) }
    let buffer = SecretBytes(count: ciphertext.count + 16) { _ in }
    var total = 0
    try buffer.withUnsafeBytes { raw in
      let out = UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
      let ok = key.withUnsafeBytes { k in
        iv.withUnsafeBytes { i in
          EVP_DecryptInit_ex(context, EVP_aes_256_cbc(), nil, bytes(k), bytes(i))
        }
      }
      try openSSLCheck(ok, "EVP_DecryptInit_ex")
      var length: Int32 = 0
      try openSSLCheck(
        EVP_DecryptUpdate(context, out, &length, ciphertext, Int32(ciphertext.count)),
        "EVP_DecryptUpdate")
      total = Int(length)
      guard EVP_DecryptFinal_ex(context, out + total, &length) == 1 else {
        ERR_clear_error()
        throw CryptoError.authenticationFailed
      }
      total += Int(length)
    }
    return buffer.prefix(total)
  }

  private static func split(_ material: SecretBytes) -> KeyAndIV {
    KeyAndIV(key: material.prefix(32), iv: material.suffix(16))
  }
}
