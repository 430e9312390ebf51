import LockstepCore

/// How a derived key's new value is made from the rotated ones (and the live secret).
///
/// `DATABASE_URL` is the case in point: the runbook changed the database password but never
/// the URL that carries it. Rendering works on bytes and returns `SecretBytes`, so a derived
/// value never sits in a `String`.
public enum ValueTemplate: Sendable, Equatable {
  /// Text with `{{ KEY }}` or `{{ KEY | urlencode }}` placeholders.
  case text([Part])
  /// The key's current value is a URL; replace only the password in its userinfo with the
  /// new value of the named key, percent-encoded.
  /// The live URL with its password (and, when `user` names a key, its user) replaced.
  case urlPassword(from: String, user: String? = nil)

  public enum Part: Sendable, Equatable {
    case literal([UInt8])
    case key(String, urlencode: Bool)
  }

  public struct Failure: LockstepError, Equatable {
    public let description: String
    public var exitStatus: ExitStatus { .dataError }
  }

  public init(parsing text: String) throws(Failure) {
    var parts: [Part] = []
    var rest = Substring(text)
    while let open = rest.range(of: "{{") {
      if open.lowerBound > rest.startIndex {
        parts.append(.literal(Array(rest[..<open.lowerBound].utf8)))
      }
      guard let close = rest[open.upperBound...].range(of: "}}") else {
        throw Failure(description: "a {{ placeholder is not closed with }}")
      }
      let inner = rest[open.upperBound..<close.lowerBound].split(separator: "|").map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard let name = inner.first, !name.isEmpty,
        name.utf8.allSatisfy({ byte in
          (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || (0x30...0x39).contains(byte) || byte == 0x5F
        })
      else { throw Failure(description: "a placeholder must name a key, like {{ DB_PASSWORD }}") }
      switch inner.count {
      case 1: parts.append(.key(name, urlencode: false))
      case 2 where inner[1] == "urlencode": parts.append(.key(name, urlencode: true))
      default:
        throw Failure(description: "unknown filter in {{ \(name) | … }}: only urlencode is known")
      }
      rest = rest[close.upperBound...]
    }
    if !rest.isEmpty { parts.append(.literal(Array(rest.utf8))) }
    self = .text(parts)
  }

  /// The keys the template reads.
  public var references: [String] {
    switch self {
    case .text(let parts):
      parts.compactMap { if case .key(let name, _) = $0 { name } else { nil } }
    case .urlPassword(let key, let user): [key] + (user.map { [$0] } ?? [])
    }
  }

  /// Renders with `values` (new values first, then the live secret's). `current` is the
  /// derived key's live value, which `urlPassword` rewrites.
  public func render(values: (String) -> SecretBytes?, current: SecretBytes?) throws(Failure)
    -> SecretBytes
  {
    var output: [UInt8] = []
    defer { SecretBytes.wipe(&output) }
    switch self {
    case .text(let parts):
      for part in parts {
        switch part {
        case .literal(let bytes): output.append(contentsOf: bytes)
        case .key(let name, let urlencode):
          guard let value = values(name) else {
            throw Failure(description: "the template names key \(name), which has no value")
          }
          value.withUnsafeBytes { raw in
            if urlencode {
              Self.percentEncode(raw, into: &output)
            } else {
              output.append(contentsOf: raw)
            }
          }
        }
      }
    case .urlPassword(let key, let userKey):
      guard let current else {
        throw Failure(
          description: "url_password needs a current URL value to rewrite, and there is none")
      }
      guard let password = values(key) else {
        throw Failure(description: "url_password names key \(key), which has no value")
      }
      var url = current.unsafeArray()
      defer { SecretBytes.wipe(&url) }
      guard let range = Self.passwordRange(in: url) else {
        throw Failure(description: "the current value is not a URL with user:password@ in it")
      }
      if let userKey {
        guard let user = values(userKey) else {
          throw Failure(description: "url_user names key \(userKey), which has no value")
        }
        let userStart = Self.find(Array("://".utf8), in: url, from: 0)! + 3
        output.append(contentsOf: url[..<userStart])
        user.withUnsafeBytes { Self.percentEncode($0, into: &output) }
        output.append(0x3A)
      } else {
        output.append(contentsOf: url[..<range.lowerBound])
      }
      password.withUnsafeBytes { Self.percentEncode($0, into: &output) }
      output.append(contentsOf: url[range.upperBound...])
    }
    return SecretBytes(copying: output)
  }

  /// Percent-encoding for a URL's userinfo (LockstepCore's one RFC 3986 encoder).
  static func percentEncode(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
    PercentEncoding.write(bytes, to: &output)
  }

  /// The byte range of the password in `scheme://user:password@host…`.
  static func passwordRange(in url: [UInt8]) -> Range<Int>? {
    guard let schemeEnd = find(Array("://".utf8), in: url, from: 0) else { return nil }
    let authorityStart = schemeEnd + 3
    var authorityEnd = url.count
    for index in authorityStart..<url.count where url[index] == 0x2F || url[index] == 0x3F {
      authorityEnd = index
      break
    }
    guard let at = url[authorityStart..<authorityEnd].lastIndex(of: 0x40),
      let colon = url[authorityStart..<at].firstIndex(of: 0x3A)
    else { return nil }
    return (colon + 1)..<at
  }

  private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for index in start...(haystack.count - needle.count)
    where Array(haystack[index..<index + needle.count]) == needle {
      return index
    }
    return nil
  }
}
