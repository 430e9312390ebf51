/// Finds environment keys referenced in source code, so a key the code reads but the
/// inventory lacks fails CI before deploy.
///
/// It looks for the accessors of the common runtimes: `process.env.X`, `process.env["X"]`,
/// `import.meta.env.X` (JavaScript), `os.environ["X"]`, `os.environ.get("X")`,
/// `os.getenv("X")` (Python), `os.Getenv("X")`, `os.LookupEnv("X")` (Go), `ENV["X"]`,
/// `ENV.fetch("X")` (Ruby), `ProcessInfo.processInfo.environment["X"]` (Swift),
/// `System.getenv("X")` (Java), `env::var("X")` (Rust). Names built at run time are not
/// found, which docs/drift.md says.
public enum CodeScanner {
  public struct Reference: Sendable, Equatable {
    public let name: String
    public let line: Int
  }

  enum Form {
    /// `prefix` then an identifier.
    case member
    /// `prefix` then optional blanks, a quote, the name, the same quote.
    case quoted
  }

  static let patterns: [(prefix: [UInt8], form: Form, wordStart: Bool)] = [
    ("process.env.", Form.member, true), ("process.env[", .quoted, true),
    ("import.meta.env.", .member, true), ("os.environ[", .quoted, true),
    ("os.environ.get(", .quoted, true), ("os.getenv(", .quoted, true),
    ("os.Getenv(", .quoted, true), ("os.LookupEnv(", .quoted, true), ("ENV[", .quoted, true),
    ("ENV.fetch(", .quoted, true), ("ProcessInfo.processInfo.environment[", .quoted, true),
    ("System.getenv(", .quoted, true), ("env::var(", .quoted, false),
  ].map { (Array($0.0.utf8), $0.1, $0.2) }

  public static func references(in bytes: [UInt8]) -> [Reference] {
    var found: [Reference] = []
    var line = 1
    var index = 0
    let count = bytes.count
    while index < count {
      let byte = bytes[index]
      if byte == 0x0A {
        line += 1
        index += 1
        continue
      }
      // Every prefix starts with one of these bytes: a cheap filter before comparing.
      guard
        byte == 0x70 || byte == 0x69 || byte == 0x6F || byte == 0x45 || byte == 0x50
          || byte == 0x53 || byte == 0x65
      else {
        index += 1
        continue
      }
      if index > 0, isIdentifierByte(bytes[index - 1]) || bytes[index - 1] == 0x2E {
        index += 1
        continue
      }
      var matched = false
      for pattern in patterns where pattern.prefix[0] == byte {
        guard startsWith(bytes, at: index, pattern.prefix) else { continue }
        var cursor = index + pattern.prefix.count
        if let name = name(in: bytes, at: &cursor, form: pattern.form) {
          found.append(Reference(name: name, line: line))
        }
        index = cursor
        matched = true
        break
      }
      if !matched { index += 1 }
    }
    return found
  }

  static func startsWith(_ bytes: [UInt8], at index: Int, _ prefix: [UInt8]) -> Bool {
    guard index + prefix.count <= bytes.count else { return false }
    for offset in 0..<prefix.count where bytes[index + offset] != prefix[offset] { return false }
    return true
  }

  static func isIdentifierByte(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
      || (byte >= 0x30 && byte <= 0x39)
  }

  static func name(in bytes: [UInt8], at cursor: inout Int, form: Form) -> String? {
    switch form {
    case .member:
      let start = cursor
      while cursor < bytes.count && isIdentifierByte(bytes[cursor]) { cursor += 1 }
      guard cursor > start, !(bytes[start] >= 0x30 && bytes[start] <= 0x39) else { return nil }
      return String(decoding: bytes[start..<cursor], as: UTF8.self)
    case .quoted:
      while cursor < bytes.count && (bytes[cursor] == 0x20 || bytes[cursor] == 0x09) {
        cursor += 1
      }
      guard cursor < bytes.count else { return nil }
      let quote = bytes[cursor]
      guard quote == 0x22 || quote == 0x27 || quote == 0x60 else { return nil }
      let start = cursor + 1
      var end = start
      while end < bytes.count && isIdentifierByte(bytes[end]) { end += 1 }
      guard end > start, end < bytes.count, bytes[end] == quote else { return nil }
      cursor = end + 1
      return String(decoding: bytes[start..<end], as: UTF8.self)
    }
  }
}
