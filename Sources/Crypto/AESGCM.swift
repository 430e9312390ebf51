internal import COpenSSL
import LockstepCore

/// AES-256-GCM through OpenSSL's EVP interface, which uses AES-NI and carry-less multiply
/// (VAES/VPCLMULQDQ where present).
///
/// One instance owns one `EVP_CIPHER_CTX` with the key schedule already expanded, so a
/// stream of chunks pays for key setup once and each chunk only sets its nonce. It is not
/// `Sendable`: a stream is processed by one thread.
public final class AESGCM {
  public static let keyByteCount = 32
  public static let nonceByteCount = 12
  public static let tagByteCount = 16

  public enum Direction: Sendable { case seal, open }

  private let context: OpaquePointer
  private let direction: Direction

  public init(key: SecretBytes, direction: Direction) throws {
    try CryptoError.check(key.count, Self.keyByteCount, "AES-256-GCM key")
    guard let context = EVP_CIPHER_CTX_new() else {
      throw CryptoError.library(function: "EVP_CIPHER_CTX_new")
    }
    self.context = context
    self.direction = direction
    // From here on `deinit` frees the context, also when the key setup below throws.
    let ok = try key.withBytePointer { key in
      switch direction {
      case .seal: EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nil)
      case .open: EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nil)
      }
    }
    try openSSLCheck(ok, "EVP_CipherInit_ex")
  }

  deinit {
    // Frees the context and cleanses the expanded key schedule it holds.
    EVP_CIPHER_CTX_free(context)
  }

  /// Encrypts `plaintext` into `output` (ciphertext followed by the 16-byte tag; `output`
  /// must hold `plaintext.count + 16` bytes). Returns the bytes written. `output` may start
  /// where `plaintext` does (in place, as the envelope seals its chunks); no other overlap.
  @discardableResult
  public func seal(
    nonce: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
    authenticating aad: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
    into output: UnsafeMutableRawBufferPointer
  ) throws -> Int {
    precondition(direction == .seal, "this AESGCM context was created for opening")
    try CryptoError.check(nonce.count, Self.nonceByteCount, "AES-GCM nonce")
    precondition(output.count >= plaintext.count + Self.tagByteCount, "output buffer too small")
    let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
    try openSSLCheck(
      EVP_EncryptInit_ex(context, nil, nil, nil, bytes(nonce)), "EVP_EncryptInit_ex")
    var length: Int32 = 0
    if aad.count > 0 {
      try openSSLCheck(
        EVP_EncryptUpdate(context, nil, &length, bytes(aad), Int32(aad.count)),
        "EVP_EncryptUpdate")
    }
    var written = 0
    if plaintext.count > 0 {
      try openSSLCheck(
        EVP_EncryptUpdate(context, out, &length, bytes(plaintext), Int32(plaintext.count)),
        "EVP_EncryptUpdate")
      written = Int(length)
    }
    try openSSLCheck(EVP_EncryptFinal_ex(context, out + written, &length), "EVP_EncryptFinal_ex")
    written += Int(length)
    try openSSLCheck(
      EVP_CIPHER_CTX_ctrl(
        context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagByteCount), out + written),
      "EVP_CIPHER_CTX_ctrl")
    return written + Self.tagByteCount
  }

  /// Decrypts `sealed` (ciphertext followed by the tag) into `output`, which must hold
  /// `sealed.count - 16` bytes and may start where `sealed` does (in place; no other
  /// overlap). Throws `authenticationFailed` when the tag does not match; `output` may then
  /// hold unauthenticated bytes, which the caller must discard.
  @discardableResult
  public func open(
    nonce: UnsafeRawBufferPointer, sealed: UnsafeRawBufferPointer,
    authenticating aad: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
    into output: UnsafeMutableRawBufferPointer
  ) throws -> Int {
    precondition(direction == .open, "this AESGCM context was created for sealing")
    try CryptoError.check(nonce.count, Self.nonceByteCount, "AES-GCM nonce")
    guard sealed.count >= Self.tagByteCount else { throw CryptoError.authenticationFailed }
    let ciphertextCount = sealed.count - Self.tagByteCount
    precondition(output.count >= ciphertextCount, "output buffer too small")
    let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
    try openSSLCheck(
      EVP_DecryptInit_ex(context, nil, nil, nil, bytes(nonce)), "EVP_DecryptInit_ex")
    // The ctrl call takes a non-const pointer; the tag is copied (to the stack: this runs
    // once per 64 KiB chunk) so `sealed` stays read-only.
    try withUnsafeTemporaryAllocation(byteCount: Self.tagByteCount, alignment: 16) { tag in
      tag.copyMemory(from: UnsafeRawBufferPointer(rebasing: sealed[ciphertextCount...]))
      try openSSLCheck(
        EVP_CIPHER_CTX_ctrl(
          context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagByteCount), tag.baseAddress),
        "EVP_CIPHER_CTX_ctrl")
    }
    var length: Int32 = 0
    if aad.count > 0 {
      try openSSLCheck(
        EVP_DecryptUpdate(context, nil, &length, bytes(aad), Int32(aad.count)),
        "EVP_DecryptUpdate")
    }
    var written = 0
    if ciphertextCount > 0 {
      try openSSLCheck(
        EVP_DecryptUpdate(context, out, &length, bytes(sealed), Int32(ciphertextCount)),
        "EVP_DecryptUpdate")
      written = Int(length)
    }
    guard EVP_DecryptFinal_ex(context, out + written, &length) == 1 else {
      ERR_clear_error()
      throw CryptoError.authenticationFailed
    }
    return written + Int(length)
  }
}

extension AESGCM {
  /// One-shot sealing for small messages: returns ciphertext followed by the tag.
  public static func seal(
    _ plaintext: [UInt8], key: SecretBytes, nonce: [UInt8], authenticating aad: [UInt8] = []
  ) throws -> [UInt8] {
    let cipher = try AESGCM(key: key, direction: .seal)
    var output = [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
    try withBuffers(nonce, plaintext, aad) { (n, p, a) in
      try output.withUnsafeMutableBytes { (o) in
        _ = try cipher.seal(nonce: n, plaintext: p, authenticating: a, into: o)
      }
    }
    return output
  }

  /// One-shot opening; the plaintext comes back as `SecretBytes` since it usually is one.
  public static func open(
    _ sealed: [UInt8], key: SecretBytes, nonce: [UInt8], authenticating aad: [UInt8] = []
  ) throws -> SecretBytes {
    guard sealed.count >= tagByteCount else { throw CryptoError.authenticationFailed }
    let cipher = try AESGCM(key: key, direction: .open)
    return try SecretBytes.filled(count: sealed.count - tagByteCount) { (out) in
      try withBuffers(nonce, sealed, aad) { (n, s, a) in
        _ = try cipher.open(
          nonce: n, sealed: s, authenticating: a,
          into: UnsafeMutableRawBufferPointer(start: out, count: sealed.count - tagByteCount))
      }
    }
  }
}
