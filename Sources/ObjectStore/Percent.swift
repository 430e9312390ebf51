/// RFC 3986 percent-encoding as SigV4 and the GCS JSON API want it: everything but the
/// unreserved characters is encoded, so that the URL libcurl sends is already canonical.
enum Percent {
  static func encode(_ text: String, keepingSlash: Bool = false) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
        UInt8(ascii: "."), UInt8(ascii: "~"):
        out.append(byte)
      case UInt8(ascii: "/") where keepingSlash:
        out.append(byte)
      default:
        out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// `name=value&…` sorted by name, the canonical query SigV4 signs.
  static func query(_ items: [(String, String)]) -> String {
    items.sorted { $0.0 < $1.0 }.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
  }
}
