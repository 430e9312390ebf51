import LockstepCore

/// Writes `NAME=value` lines whose quoting the chosen dialect's parser reads back exactly.
///
/// Every dialect tries the same candidates in order (bare, single quotes, the dialect's
/// other quote, double quotes with escapes) and takes the first one its parser reads back
/// unchanged; when none fits, the value is refused and nothing is written. For `portable`,
/// RendererTests' property test proves each refusal by trying every quoting with the real
/// python-dotenv and sh.
public enum DotenvRenderer {
  /// The bytes for `value` after `NAME=`, or why it cannot be written.
  public static func quote(_ value: SecretBytes, dialect: DotenvDialect) -> Result<
    SecretBytes, RenderRefusal
  > {
    var bytes = value.unsafeArray()
    defer { SecretBytes.wipe(&bytes) }
    switch encode(bytes, dialect: dialect) {
    case .success(var out): return .success(SecretBytes(consuming: &out))
    case .failure(let refusal): return .failure(refusal)
    }
  }

  /// One `NAME=value` line with its newline.
  public static func line(
    name: String, value: SecretBytes, dialect: DotenvDialect
  ) -> Result<SecretBytes, RenderRefusal> {
    var bytes = value.unsafeArray()
    defer { SecretBytes.wipe(&bytes) }
    switch encode(bytes, dialect: dialect) {
    case .success(var out):
      defer { SecretBytes.wipe(&out) }
      var line = Array(name.utf8) + [0x3D]
      line.append(contentsOf: out)
      line.append(0x0A)
      return .success(SecretBytes(consuming: &line))
    case .failure(let refusal): return .failure(refusal)
    }
  }

  static func encode(_ value: [UInt8], dialect: DotenvDialect) -> Result<[UInt8], RenderRefusal> {
    if value.contains(0) { return .failure(.containsNUL) }
    if dialect != .sh, String(validating: value, as: UTF8.self) == nil {
      return .failure(.notUTF8)
    }
    if dialect == .kubectl {
      // kubectl keeps every byte after `=` up to the end of the line.
      if value.contains(0x0A) { return .failure(.lineBreak) }
      if value.contains(0x0D) { return .failure(.carriageReturn) }
      return .success(value)
    }
    if value.isEmpty { return .success([singleQuote, singleQuote]) }
    if isBare(value) { return .success(value) }
    let facts = Facts(value)
    switch dialect {
    case .sh:
      return .success(shSingleQuoted(value))
    case .portable:
      if facts.hasCR { return .failure(.carriageReturn) }
      if facts.pythonInterpolates { return .failure(.pythonInterpolation) }
      // python-dotenv's quoted-value patterns take `\'` and `\"` for an escaped quote, so
      // a closing quote right after a backslash is swallowed and the value runs on to the
      // next quote in the file; unquoted, sh joins the next line. No form holds it.
      if facts.endsWithBackslash { return .failure(.trailingBackslash) }
      if !facts.hasSingleQuote && !facts.hasDoubleBackslash {
        return .success(wrap(value, singleQuote))
      }
      if !facts.hasBacktick && Self.dollarsStayLiteralInShDoubleQuotes(value) {
        return .success(doubleQuoted(value, escapeNewlines: false))
      }
      return .failure(.noQuoting)
    case .pythonDotenv:
      if facts.pythonInterpolates { return .failure(.pythonInterpolation) }
      if !facts.endsWithBackslash {
        if !facts.hasSingleQuote && !facts.hasDoubleBackslash && !facts.hasCR {
          return .success(wrap(value, singleQuote))
        }
        return .success(doubleQuoted(value, escapeNewlines: false))
      }
      if pythonBareSafe(value) { return .success(value) }
      return .failure(.noQuoting)
    case .compose:
      if !facts.hasSingleQuote && !facts.endsWithBackslash && !facts.hasCR {
        return .success(wrap(value, singleQuote))
      }
      if !facts.hasDollar && !facts.endsWithBackslash && value.last != doubleQuote {
        return .success(doubleQuoted(value, escapeNewlines: true))
      }
      return .failure(facts.hasCR && facts.hasDollar ? .carriageReturn : .noQuoting)
    case .kubectl:
      return .success(value)
    case .node:
      if facts.hasCR {
        if !facts.hasDoubleQuote && !facts.hasBackslash {
          return .success(nodeDoubleQuoted(value))
        }
        return .failure(.carriageReturn)
      }
      if !facts.endsWithBackslash {
        if !facts.hasSingleQuote { return .success(wrap(value, singleQuote)) }
        if !facts.hasBacktick { return .success(wrap(value, backtick)) }
      }
      if !facts.hasDoubleQuote && !facts.hasBackslash {
        return .success(nodeDoubleQuoted(value))
      }
      if nodeBareSafe(value) { return .success(value) }
      return .failure(.noQuoting)
    }
  }

  /// Whether every `$` in `value` stays a literal `$` inside sh double quotes: it must not
  /// start a parameter (`$NAME`, `${`, `$1`, `$@ $* $# $? $- $$ $!`), a command or
  /// arithmetic substitution (`$(`, bash's `$[`). A `$` before anything else (a blank, a
  /// newline, the closing quote, `/`, `'`, a non-ASCII letter…) is kept as is by dash and
  /// bash, and python-dotenv only ever expands `${…}` (refused before this is asked).
  static func dollarsStayLiteralInShDoubleQuotes(_ value: [UInt8]) -> Bool {
    for index in value.indices where value[index] == 0x24 {
      guard index + 1 < value.count else { continue }
      let next = value[index + 1]
      if DotenvParser.isNameByte(next) || Array("{([@*#?-$!`".utf8).contains(next) {
        return false
      }
    }
    return true
  }

  /// Bytes every dialect reads unquoted and unchanged, for readable files.
  static func isBare(_ value: [UInt8]) -> Bool {
    value.allSatisfy { byte in
      DotenvParser.isNameByte(byte) || Array("./:@%+,=-".utf8).contains(byte)
    }
  }

  /// python-dotenv's unquoted rule keeps the line minus trailing blanks and ` #…`.
  static func pythonBareSafe(_ value: [UInt8]) -> Bool {
    guard let first = value.first, let last = value.last,
      first != singleQuote, first != doubleQuote, !isSpace(first), !isSpace(last)
    else { return false }
    if value.contains(0x0A) || value.contains(0x0D) { return false }
    for index in value.indices.dropFirst() where value[index] == 0x23 {
      if isSpace(value[index - 1]) { return false }
    }
    return true
  }

  /// node's unquoted rule stops at any `#` and trims both ends.
  static func nodeBareSafe(_ value: [UInt8]) -> Bool {
    guard let first = value.first, let last = value.last,
      first != singleQuote, first != doubleQuote, first != backtick, !isSpace(first),
      !isSpace(last)
    else { return false }
    return !value.contains(0x23) && !value.contains(0x0A) && !value.contains(0x0D)
  }

  static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0B || byte == 0x0C || byte == 0x0D
      || byte == 0x0A
  }

  static func wrap(_ value: [UInt8], _ quote: UInt8) -> [UInt8] {
    var out = [quote]
    out.append(contentsOf: value)
    out.append(quote)
    return out
  }

  /// `'…'` with each `'` written as `'\''` (close, escaped quote, reopen).
  static func shSingleQuoted(_ value: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [singleQuote]
    for byte in value {
      if byte == singleQuote {
        out.append(contentsOf: [singleQuote, backslash, singleQuote, singleQuote])
      } else {
        out.append(byte)
      }
    }
    out.append(singleQuote)
    return out
  }

  /// `"…"` with `\` and `"` escaped, CR as `\r`, and LF as `\n` where the dialect has no
  /// literal newline inside double quotes.
  static func doubleQuoted(_ value: [UInt8], escapeNewlines: Bool) -> [UInt8] {
    var out: [UInt8] = [doubleQuote]
    for byte in value {
      switch byte {
      case backslash, doubleQuote: out.append(contentsOf: [backslash, byte])
      case 0x0D: out.append(contentsOf: [backslash, 0x72])
      case 0x0A where escapeNewlines: out.append(contentsOf: [backslash, 0x6E])
      default: out.append(byte)
      }
    }
    out.append(doubleQuote)
    return out
  }

  /// node turns `\n` and `\r` into LF and CR inside double quotes and nothing else.
  static func nodeDoubleQuoted(_ value: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [doubleQuote]
    for byte in value {
      switch byte {
      case 0x0D: out.append(contentsOf: [backslash, 0x72])
      case 0x0A: out.append(contentsOf: [backslash, 0x6E])
      default: out.append(byte)
      }
    }
    out.append(doubleQuote)
    return out
  }

  /// The facts about a value that decide its quoting, computed in one pass.
  struct Facts {
    var hasSingleQuote = false
    var hasDoubleQuote = false
    var hasBacktick = false
    var hasDollar = false
    var hasBackslash = false
    var hasDoubleBackslash = false
    var hasCR = false
    var endsWithBackslash = false
    var pythonInterpolates = false

    init(_ value: [UInt8]) {
      var previous: UInt8 = 0
      for byte in value {
        switch byte {
        case singleQuote: hasSingleQuote = true
        case doubleQuote: hasDoubleQuote = true
        case backtick: hasBacktick = true
        case 0x24: hasDollar = true
        case 0x0D: hasCR = true
        case backslash:
          hasBackslash = true
          if previous == backslash {
            hasDoubleBackslash = true
            previous = 0
            continue
          }
        default: break
        }
        previous = byte
      }
      endsWithBackslash = value.last == backslash
      pythonInterpolates = hasDollar && Self.matchesPythonVariable(value)
    }

    /// python-dotenv's `\$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}` anywhere.
    static func matchesPythonVariable(_ value: [UInt8]) -> Bool {
      var index = 0
      while index + 1 < value.count {
        defer { index += 1 }
        guard value[index] == 0x24, value[index + 1] == 0x7B else { continue }
        var cursor = index + 2
        while cursor < value.count && value[cursor] != 0x7D && value[cursor] != 0x3A {
          cursor += 1
        }
        guard cursor < value.count else { return false }
        if value[cursor] == 0x7D { return true }
        guard cursor + 1 < value.count, value[cursor + 1] == 0x2D else { continue }
        cursor += 2
        while cursor < value.count && value[cursor] != 0x7D { cursor += 1 }
        if cursor < value.count { return true }
      }
      return false
    }
  }
}

private let singleQuote: UInt8 = 0x27
private let doubleQuote: UInt8 = 0x22
private let backtick: UInt8 = 0x60
private let backslash: UInt8 = 0x5C
