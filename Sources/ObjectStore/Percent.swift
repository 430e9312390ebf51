import LockstepCore

/// RFC 3986 percent-encoding as SigV4 and the GCS JSON API want it: everything but the
/// unreserved characters is encoded, so that the URL libcurl sends is already canonical.
enum Percent {
  static func encode(_ text: String, keepingSlash: Bool = false) -> String {
    var out: [UInt8] = []
    var copy = text
    copy.withUTF8 {
      PercentEncoding.write(UnsafeRawBufferPointer($0), keepingSlash: keepingSlash, to: &out)
    }
    return String(decoding: out, as: UTF8.self)
  }
}
