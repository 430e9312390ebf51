/// RFC 3986 percent-encoding, the strict form: the unreserved characters (`A–Z a–z 0–9 - .
/// _ ~`) stay, every other byte becomes `%XX` (upper-case hex). What a URL's userinfo
/// password needs whatever the driver, and the canonical form SigV4 and GCS sign.
public enum PercentEncoding {
  public static func write(
    _ bytes: UnsafeRawBufferPointer, keepingSlash: Bool = false,
    to sink: inout some ByteAppender
  ) {
    let hex: StaticString = "0123456789ABCDEF"
    for byte in bytes {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
        UInt8(ascii: "."), UInt8(ascii: "~"):
        sink.append(byte)
      case UInt8(ascii: "/") where keepingSlash:
        sink.append(byte)
      default:
        sink.append(UInt8(ascii: "%"))
        sink.append(hex.utf8Start[Int(byte >> 4)])
        sink.append(hex.utf8Start[Int(byte & 0x0F)])
      }
    }
  }
}

extension [UInt8]: ByteAppender {
  public mutating func append(_ bytes: UnsafeRawBufferPointer) {
    append(contentsOf: bytes)
  }
}
