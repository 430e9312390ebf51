/// A Redis ACL password as the server keeps it: the SHA-256 of the password.
///
/// `ACL SETUSER user #<hex>` adds a password by this hash and `!<hex>` removes it, so the
/// password itself never travels in an ACL command (Redis hides admin commands from
/// `MONITOR`, but a hash is what it stores anyway, and `ACL GETUSER` lists the hashes).
/// The digest is computed by the caller (the `Crypto` module is the one importer of
/// OpenSSL); this type only checks its shape. Its `description` never prints it: a hash of
/// a low-entropy password is as good as the password to a dictionary.
public struct RedisPasswordHash: Sendable, Hashable, CustomStringConvertible {
  /// The 32 bytes of the SHA-256 digest.
  public let digest: [UInt8]

  public init(digest: [UInt8]) throws(RedisError) {
    guard digest.count == 32 else {
      throw .invalidArgument(reason: "A Redis password hash is a 32-byte SHA-256 digest")
    }
    self.digest = digest
  }

  /// From the 64 lowercase hex digits `ACL GETUSER` prints; nil for anything else.
  public init?(hex: String) {
    let bytes = Array(hex.utf8)
    guard bytes.count == 64 else { return nil }
    var digest: [UInt8] = []
    digest.reserveCapacity(32)
    var index = 0
    while index < 64 {
      guard let high = Self.nibble(bytes[index]), let low = Self.nibble(bytes[index + 1]) else {
        return nil
      }
      digest.append(high << 4 | low)
      index += 2
    }
    self.digest = digest
  }

  /// The 64 lowercase hex digits, as `ACL SETUSER` takes them after `#` or `!`.
  public var hex: String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(64)
    for byte in digest {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
  }

  public var description: String { "<redis password hash>" }

  private static func nibble(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    default: nil
    }
  }
}
