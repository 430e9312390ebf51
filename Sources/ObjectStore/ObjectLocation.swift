import LockstepCore

/// A parsed `s3://bucket/prefix` or `gs://bucket/prefix`.
///
/// The prefix is kept as the user wrote it after the bucket, without a leading slash. As a
/// destination it names a folder, path-segment exact: `s3://b/vault` and `s3://b/vault/`
/// both mean the folder `vault/` (`folder`), never every key that starts with `vault`. As
/// one backup (`backup verify s3://b/vault/FILE`) it is the object's key (`prefix`).
public struct ObjectLocation: Sendable, Equatable, CustomStringConvertible {
  public enum Scheme: String, Sendable {
    case s3
    case gs
  }

  public let scheme: Scheme
  public let bucket: String
  public let prefix: String

  public init(scheme: Scheme, bucket: String, prefix: String = "") {
    self.scheme = scheme
    self.bucket = bucket
    self.prefix = prefix
  }

  /// Whether `text` looks like an object-store URL (rather than a local path).
  public static func isObjectURL(_ text: String) -> Bool {
    text.hasPrefix("s3://") || text.hasPrefix("gs://")
  }

  public init(parsing text: String) throws {
    let scheme: Scheme
    if text.hasPrefix("s3://") {
      scheme = .s3
    } else if text.hasPrefix("gs://") {
      scheme = .gs
    } else {
      throw ObjectStoreError.invalidURL(text)
    }
    let rest = text.dropFirst(5)
    let bucket = String(rest.prefix { $0 != "/" })
    var prefix = String(rest.dropFirst(bucket.count))
    while prefix.hasPrefix("/") { prefix.removeFirst() }
    guard Self.isValidBucket(bucket) else { throw ObjectStoreError.invalidURL(text) }
    self.init(scheme: scheme, bucket: bucket, prefix: prefix)
  }

  /// S3 and GCS share these rules: 3–63 characters of lowercase letters, digits, `-`,
  /// `.` and (GCS) `_`, starting and ending with a letter or digit.
  static func isValidBucket(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard (3...63).contains(bytes.count) else { return false }
    func alnum(_ byte: UInt8) -> Bool {
      (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
    guard alnum(bytes.first!), alnum(bytes.last!) else { return false }
    return bytes.allSatisfy {
      alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
    }
  }

  /// The prefix as a folder: empty (the bucket's top) or ending in exactly one `/`.
  public var folder: String {
    var trimmed = prefix
    while trimmed.hasSuffix("/") { trimmed.removeLast() }
    return trimmed.isEmpty ? "" : trimmed + "/"
  }

  /// The full key of `name` inside this location's folder.
  public func key(_ name: String) -> String { folder + name }

  /// The URL of one object, for messages and `--json` output.
  public func url(key: String) -> String { "\(scheme.rawValue)://\(bucket)/\(key)" }

  public var description: String { "\(scheme.rawValue)://\(bucket)/\(prefix)" }
}
