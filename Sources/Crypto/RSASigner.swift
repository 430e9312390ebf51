internal import COpenSSL
import LockstepCore

/// RSASSA-PKCS1-v1_5 with SHA-256 (JWT's `RS256`) through OpenSSL, for the Google
/// service-account assertion. The key is a PEM `PRIVATE KEY` (PKCS#8, what Google's key
/// files hold) or `RSA PRIVATE KEY` (PKCS#1); the PEM armour is removed here and OpenSSL
/// decodes the DER, so the key never passes through a `String`.
/// - SeeAlso: https://www.openssl.org/docs/man3.0/man3/EVP_DigestSign.html
public final class RSASigner {
  /// `EVP_PKEY *`.
  private let key: OpaquePointer

  public init(pem: SecretBytes) throws {
    var der = try Self.derFromPEM(pem)
    defer { SecretBytes.wipe(&der) }
    let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
      var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
      return d2i_AutoPrivateKey(nil, &cursor, buffer.count)
    }
    guard let parsed else {
      ERR_clear_error()
      throw CryptoError.invalidKey("the private key is not an RSA key in PEM form")
    }
    guard EVP_PKEY_get_base_id(parsed) == EVP_PKEY_RSA else {
      EVP_PKEY_free(parsed)
      throw CryptoError.invalidKey("the private key is not an RSA key")
    }
    key = parsed
  }

  deinit { EVP_PKEY_free(key) }

  /// The RS256 signature of `message`.
  public func sign(_ message: [UInt8]) throws -> [UInt8] {
    guard let context = EVP_MD_CTX_new() else {
      throw CryptoError.library(function: "EVP_MD_CTX_new")
    }
    defer { EVP_MD_CTX_free(context) }
    try openSSLCheck(
      EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key), "EVP_DigestSignInit")
    var length = 0
    try message.withUnsafeBufferPointer { input in
      try openSSLCheck(
        EVP_DigestSign(context, nil, &length, input.baseAddress, input.count), "EVP_DigestSign")
    }
    var signature = [UInt8](repeating: 0, count: length)
    try message.withUnsafeBufferPointer { input in
      try openSSLCheck(
        EVP_DigestSign(context, &signature, &length, input.baseAddress, input.count),
        "EVP_DigestSign")
    }
    return Array(signature.prefix(length))
  }

  /// The base64 body between the first `-----BEGIN … PRIVATE KEY-----` line and its END line.
  static func derFromPEM(_ pem: SecretBytes) throws -> [UInt8] {
    var text = pem.unsafeArray()
    defer { SecretBytes.wipe(&text) }
    let begin = Array("-----BEGIN ".utf8)
    let end = Array("-----END ".utf8)
    func find(_ needle: [UInt8], from start: Int) -> Int? {
      guard text.count >= needle.count else { return nil }
      var index = start
      while index + needle.count <= text.count {
        if text[index] == needle[0] && Array(text[index..<index + needle.count]) == needle {
          return index
        }
        index += 1
      }
      return nil
    }
    guard let header = find(begin, from: 0),
      let headerEnd = text[header...].firstIndex(of: 0x0A),
      let footer = find(end, from: headerEnd)
    else { throw CryptoError.invalidKey("no PEM private key found") }
    var body = Array(text[(headerEnd + 1)..<footer])
    defer { SecretBytes.wipe(&body) }
    guard let der = Base64Decoder.decode(body) else {
      throw CryptoError.invalidKey("the PEM private key is not valid base64")
    }
    return der
  }
}

@available(*, unavailable)
extension RSASigner: Sendable {}

/// Standard base64 (RFC 4648 §4), ignoring white space; nil on any other character.
enum Base64Decoder {
  static func decode(_ text: [UInt8]) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(text.count * 3 / 4)
    var accumulator: UInt32 = 0
    var bits = 0
    for byte in text {
      let value: UInt32
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
      case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a") + 26)
      case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0") + 52)
      case UInt8(ascii: "+"): value = 62
      case UInt8(ascii: "/"): value = 63
      case UInt8(ascii: "="), 0x20, 0x09, 0x0A, 0x0D: continue
      default: return nil
      }
      accumulator = accumulator << 6 | value
      bits += 6
      if bits >= 8 {
        bits -= 8
        out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
      }
    }
    return out
  }
}
