import LockstepCore

/// A Vault API path below `/v1/` (`secret/aura/production`, `sys/mounts/x`), validated
/// where it is made.
///
/// Paths come from backups, templates, policies, lock records and flags: all untrusted.
/// Every segment must be non-empty, neither `.` nor `..`, and free of control characters,
/// `?` and `#`; the path may not start with `/`. One trailing `/` (a folder, as LIST takes
/// it) is allowed and kept. On the wire every segment is percent-encoded (RFC 3986
/// unreserved characters stay) and libcurl sends it as is (`CURLOPT_PATH_AS_IS`), so the
/// path Vault routes is exactly the one validated here: it can never climb out of the
/// mount or the prefix it was built under. Comparisons are by whole segments: `s1` is not
/// a prefix of `s10`.
public struct VaultPath: Sendable, Hashable, CustomStringConvertible {
  public let segments: [String]
  /// Written with a trailing `/`.
  public let isFolder: Bool

  /// Parses and validates `text`. The empty path is refused unless `allowEmpty`.
  public init(_ text: String, allowEmpty: Bool = false) throws(VaultError) {
    if text.isEmpty {
      guard allowEmpty else { throw .invalidPath(path: text, reason: "it is empty") }
      segments = []
      isFolder = false
      return
    }
    if text.hasPrefix("/") {
      throw .invalidPath(path: text, reason: "it starts with '/'")
    }
    var body = Substring(text)
    let folder = body.hasSuffix("/")
    if folder { body = body.dropLast() }
    var parts: [String] = []
    for part in body.split(separator: "/", omittingEmptySubsequences: false) {
      try Self.check(part, in: text)
      parts.append(String(part))
    }
    segments = parts
    isFolder = folder
  }

  /// A path from segments that are each checked.
  public init(segments: [String], isFolder: Bool = false) throws(VaultError) {
    for segment in segments {
      try Self.check(Substring(segment), in: segments.joined(separator: "/"))
    }
    self.segments = segments
    self.isFolder = isFolder && !segments.isEmpty
  }

  /// The same segments without the folder mark.
  public init(stripping path: VaultPath) {
    self.init(checked: path.segments, isFolder: false)
  }

  private init(checked segments: [String], isFolder: Bool) {
    self.segments = segments
    self.isFolder = isFolder
  }

  static func check(_ segment: Substring, in path: String) throws(VaultError) {
    if segment.isEmpty {
      throw .invalidPath(path: path, reason: "it has an empty segment ('//')")
    }
    if segment == "." || segment == ".." {
      throw .invalidPath(path: path, reason: "it has a '\(segment)' segment")
    }
    for scalar in segment.unicodeScalars {
      switch scalar.value {
      case 0x00..<0x20, 0x7F, 0x80..<0xA0:
        throw .invalidPath(path: path, reason: "it contains a control character")
      case 0x3F, 0x23:
        throw .invalidPath(path: path, reason: "it contains '\(scalar)'")
      default: continue
      }
    }
  }

  public var isEmpty: Bool { segments.isEmpty }

  public var description: String {
    segments.joined(separator: "/") + (isFolder ? "/" : "")
  }

  /// `self` followed by `other` (whose folder mark is kept).
  public func appending(_ other: VaultPath) -> VaultPath {
    VaultPath(
      checked: segments + other.segments, isFolder: other.isEmpty ? isFolder : other.isFolder)
  }

  /// Whether `prefix`'s segments start this path (whole segments only).
  public func hasPrefix(_ prefix: VaultPath) -> Bool {
    prefix.segments.count <= segments.count
      && zip(prefix.segments, segments).allSatisfy { $0 == $1 }
  }

  /// The segments after `prefix`, or nil when `prefix` does not start this path.
  public func dropping(_ prefix: VaultPath) -> VaultPath? {
    guard hasPrefix(prefix) else { return nil }
    return VaultPath(
      checked: Array(segments.dropFirst(prefix.segments.count)),
      isFolder: segments.count > prefix.segments.count ? isFolder : false)
  }

  /// Every segment percent-encoded, joined with `/`: what goes after `/v1/`.
  public var escaped: String {
    var out: [UInt8] = []
    out.reserveCapacity(description.utf8.count)
    for (index, segment) in segments.enumerated() {
      if index > 0 { out.append(UInt8(ascii: "/")) }
      var utf8 = segment
      utf8.withUTF8 { PercentEncoding.write(UnsafeRawBufferPointer($0), to: &out) }
    }
    if isFolder { out.append(UInt8(ascii: "/")) }
    return String(decoding: out, as: UTF8.self)
  }

  /// `text` validated and percent-encoded, as `VaultPath(text).escaped`. The usual path
  /// (unreserved characters and `/` only, no empty, `.` or `..` segment, no leading `/`) is
  /// returned as it is after one scan, without building segments: every request of a walk
  /// goes through here.
  public static func escaped(_ text: String) throws(VaultError) -> String {
    if isPlain(text) { return text }
    return try VaultPath(text).escaped
  }

  /// Whether `text` is a valid path that needs no encoding: unreserved characters and `/`
  /// only, no empty, `.` or `..` segment, no leading `/` (one trailing `/` allowed). One
  /// scan, no allocation.
  public static func isPlain(_ text: String) -> Bool {
    guard !text.isEmpty else { return false }
    var segmentLength = 0
    var dotsOnly = true
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "/"):
        if segmentLength == 0 || (dotsOnly && segmentLength <= 2) { return false }
        segmentLength = 0
        dotsOnly = true
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
        UInt8(ascii: "~"):
        segmentLength += 1
        dotsOnly = false
      case UInt8(ascii: "."):
        segmentLength += 1
      default:
        return false
      }
    }
    // A final segment may be empty only as a folder mark; it may not be `.` or `..`.
    return !(segmentLength > 0 && dotsOnly && segmentLength <= 2)
  }

  /// `text` with control characters shown as `\u{…}` and cut to 200 characters, for
  /// sentences that must name a hostile path without letting it paint the terminal.
  public static func printable(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars.prefix(200) {
      switch scalar.value {
      case 0x00..<0x20, 0x7F, 0x80..<0xA0:
        out += "\\u{" + String(scalar.value, radix: 16) + "}"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return text.unicodeScalars.count > 200 ? out + "…" : out
  }
}
