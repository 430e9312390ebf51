import LockstepCore

/// Parses `.env` files as bytes, so that values go straight into `SecretBytes` and never
/// through `String`.
///
/// The grammar is the common ground of python-dotenv, docker compose, node's dotenv and
/// POSIX sh for everything Lockstep writes, and documented rule by rule in docs/env.md:
/// optional `export `, `NAME=`, then an unquoted value (rest of the line; an inline comment
/// needs whitespace before `#`; trailing blanks trimmed), or a quoted value that may span
/// lines: `'…'` literal, `"…"` with backslash escapes, `` `…` `` literal (node), where
/// quoted segments may be concatenated as in sh (`'it'\''s'`).
public enum DotenvParser {
  public static func parse(_ text: String) -> DotenvDocument {
    parse(bytes: Array(text.utf8))
  }

  /// Parses a file's contents; the one working copy is wiped afterwards.
  public static func parse(_ secret: SecretBytes) -> DotenvDocument {
    var scanner = Scanner(bytes: secret.unsafeArray())
    defer { SecretBytes.wipe(&scanner.bytes) }
    return scanner.run()
  }

  /// Parses bytes the caller owns (and wipes, if they are secret).
  public static func parse(bytes: [UInt8]) -> DotenvDocument {
    var scanner = Scanner(bytes: bytes)
    return scanner.run()
  }

  /// Whether `name` can be exported by a POSIX shell: `[A-Za-z_][A-Za-z0-9_]*`.
  public static func isValidName(_ name: some Collection<UInt8>) -> Bool {
    guard let first = name.first, isNameStart(first) else { return false }
    return name.allSatisfy(isNameByte)
  }

  public static func isValidName(_ name: String) -> Bool { isValidName(Array(name.utf8)) }

  static func isNameStart(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
  }

  static func isNameByte(_ byte: UInt8) -> Bool {
    isNameStart(byte) || (byte >= 0x30 && byte <= 0x39)
  }
}

private let newline: UInt8 = 0x0A
private let carriageReturn: UInt8 = 0x0D
private let space: UInt8 = 0x20
private let tab: UInt8 = 0x09
private let hash: UInt8 = 0x23
private let equals: UInt8 = 0x3D
private let singleQuote: UInt8 = 0x27
private let doubleQuote: UInt8 = 0x22
private let backtick: UInt8 = 0x60
private let backslash: UInt8 = 0x5C

/// Blanks inside a line: space, tab, CR (so CRLF files parse), vertical tab, form feed.
private func isBlank(_ byte: UInt8) -> Bool {
  byte == space || byte == tab || byte == carriageReturn || byte == 0x0B || byte == 0x0C
}

private struct Scanner {
  var bytes: [UInt8]
  var index = 0
  var line = 1
  var entries: [DotenvEntry] = []
  var positions: [String: Int] = [:]
  var issues: [DotenvIssue] = []

  init(bytes: [UInt8]) { self.bytes = bytes }

  var atEnd: Bool { index >= bytes.count }
  var current: UInt8 { bytes[index] }

  mutating func run() -> DotenvDocument {
    while !atEnd {
      skipBlanks()
      if atEnd { break }
      if current == newline {
        advance()
        continue
      }
      if current == hash {
        skipToEndOfLine()
        continue
      }
      statement()
    }
    return DotenvDocument(entries: entries, issues: issues)
  }

  mutating func advance() {
    if bytes[index] == newline { line += 1 }
    index += 1
  }

  mutating func skipBlanks() {
    while !atEnd && isBlank(current) { index += 1 }
  }

  /// Leaves `index` on the newline (or the end), so the main loop counts it.
  mutating func skipToEndOfLine() {
    while !atEnd && current != newline { index += 1 }
  }

  mutating func statement() {
    let startLine = line
    skipExportPrefix()
    let nameStart = index
    while !atEnd && current != equals && current != newline && current != hash && !isBlank(current)
    {
      index += 1
    }
    let nameBytes = bytes[nameStart..<index]
    let printableName = Self.printable(nameBytes)
    skipBlanks()
    guard !atEnd, current == equals else {
      // The line's text may be a pasted value (a token, a PEM body line): never echoed.
      issues.append(DotenvIssue(line: startLine, kind: .missingEquals, name: nil))
      skipToEndOfLine()
      return
    }
    index += 1
    while !atEnd && (current == space || current == tab) { index += 1 }

    var value: [UInt8] = []
    defer { SecretBytes.wipe(&value) }
    var ok = true
    if !atEnd, current == singleQuote || current == doubleQuote || current == backtick {
      ok = quotedWord(into: &value, startLine: startLine, name: printableName)
    } else {
      unquoted(into: &value)
      if value.starts(with: Array("-----BEGIN ".utf8)), skipUnquotedPEMBody() {
        issues.append(
          DotenvIssue(line: startLine, kind: .unquotedMultiline, name: printableName))
      }
    }
    guard ok else { return }
    guard DotenvParser.isValidName(nameBytes) else {
      issues.append(DotenvIssue(line: startLine, kind: .invalidName, name: nil))
      return
    }
    let name = String(decoding: nameBytes, as: UTF8.self)
    let entry = DotenvEntry(name: name, value: SecretBytes(consuming: &value), line: startLine)
    if let position = positions[name] {
      issues.append(
        DotenvIssue(
          line: startLine, kind: .duplicateKey(firstLine: entries[position].line), name: name))
      entries[position] = entry
    } else {
      positions[name] = entries.count
      entries.append(entry)
    }
  }

  /// `export` followed by blanks is a prefix; `export=1` or a lone `export` is a name.
  mutating func skipExportPrefix() {
    let word = Array("export".utf8)
    guard index + word.count < bytes.count, Array(bytes[index..<index + word.count]) == word,
      bytes[index + word.count] == space || bytes[index + word.count] == tab
    else { return }
    index += word.count
    skipBlanks()
  }

  /// An unquoted value that opens a PEM block continues on the next lines, which must not
  /// become bindings of their own (a base64 line ending in `==` parses as `NAME==`): skip to
  /// the `-----END` line, or, without one, over the lines that look like base64. Leaves
  /// `index` on a newline. Returns whether any line was skipped.
  mutating func skipUnquotedPEMBody() -> Bool {
    guard !atEnd else { return false }
    let end = Array("-----END".utf8)
    var cursor = index + 1
    var lines = 0
    var endLine: (newline: Int, count: Int)?
    var base64Only: (newline: Int, count: Int)?
    var stillBase64 = true
    while cursor < bytes.count && endLine == nil {
      var lineEnd = cursor
      while lineEnd < bytes.count && bytes[lineEnd] != newline { lineEnd += 1 }
      let row = bytes[cursor..<lineEnd]
      lines += 1
      if row.starts(with: end) {
        endLine = (lineEnd, lines)
      } else if stillBase64 {
        let trimmed = row.last == carriageReturn ? row.dropLast() : row
        if !trimmed.isEmpty && trimmed.allSatisfy(Self.isBase64Byte) {
          base64Only = (lineEnd, lines)
        } else {
          stillBase64 = false
        }
      }
      cursor = lineEnd + 1
    }
    guard let skip = endLine ?? base64Only else { return false }
    index = skip.newline
    line += skip.count
    return true
  }

  static func isBase64Byte(_ byte: UInt8) -> Bool {
    (DotenvParser.isNameByte(byte) && byte != 0x5F) || byte == 0x2B || byte == 0x2F
      || byte == equals
  }

  /// python-dotenv's rule: the rest of the line, cut at the first blank followed by `#`,
  /// trailing blanks removed.
  mutating func unquoted(into value: inout [UInt8]) {
    let start = index
    skipToEndOfLine()
    var end = index
    var cursor = start
    while cursor < end {
      if isBlank(bytes[cursor]) {
        var after = cursor
        while after < end && isBlank(bytes[after]) { after += 1 }
        if after < end && bytes[after] == hash {
          end = cursor
          break
        }
        cursor = after
      } else {
        cursor += 1
      }
    }
    while end > start && isBlank(bytes[end - 1]) { end -= 1 }
    value.append(contentsOf: bytes[start..<end])
  }

  /// One shell word made of quoted segments, escaped bytes and plain bytes, then an
  /// optional comment. Returns false (after recording an issue) when the line is malformed.
  mutating func quotedWord(into value: inout [UInt8], startLine: Int, name: String?) -> Bool {
    if current == backtick {
      guard literalSegment(closing: backtick, into: &value) else {
        return fail(.unterminatedQuote, startLine, name)
      }
    } else {
      while !atEnd && current != newline && !isBlank(current) {
        let byte = current
        if byte == singleQuote {
          guard literalSegment(closing: singleQuote, into: &value) else {
            return fail(.unterminatedQuote, startLine, name)
          }
        } else if byte == doubleQuote {
          guard doubleQuotedSegment(into: &value) else {
            return fail(.unterminatedQuote, startLine, name)
          }
        } else if byte == backslash {
          index += 1
          if atEnd { break }
          if current == newline {
            advance()
          } else {
            value.append(current)
            index += 1
          }
        } else {
          value.append(byte)
          index += 1
        }
      }
    }
    skipBlanks()
    if !atEnd && current == hash { skipToEndOfLine() }
    guard atEnd || current == newline else {
      issues.append(DotenvIssue(line: line, kind: .unexpectedText, name: name))
      skipToEndOfLine()
      return false
    }
    return true
  }

  mutating func fail(_ kind: DotenvIssue.Kind, _ startLine: Int, _ name: String?) -> Bool {
    issues.append(DotenvIssue(line: startLine, kind: kind, name: name))
    return false
  }

  /// `'…'` or `` `…` ``: every byte literal up to the closing quote.
  mutating func literalSegment(closing: UInt8, into value: inout [UInt8]) -> Bool {
    let opening = index
    let openingLine = line
    index += 1
    while !atEnd && current != closing {
      value.append(current)
      advance()
    }
    guard !atEnd else { return abandonSegment(opening: opening, line: openingLine) }
    index += 1
    return true
  }

  /// An unterminated quote: resume on the line after the opening quote, as python-dotenv
  /// does. Returns false, for the caller to return.
  mutating func abandonSegment(opening: Int, line openingLine: Int) -> Bool {
    index = opening
    line = openingLine
    skipToEndOfLine()
    return false
  }

  /// `"…"`: `\\ \" \$ \` \' \n \r \t` are escapes; any other backslash stays literal.
  mutating func doubleQuotedSegment(into value: inout [UInt8]) -> Bool {
    let opening = index
    let openingLine = line
    index += 1
    while !atEnd && current != doubleQuote {
      if current == backslash && index + 1 < bytes.count {
        let next = bytes[index + 1]
        switch next {
        case backslash, doubleQuote, 0x24, backtick, singleQuote:
          value.append(next)
          index += 2
          continue
        case 0x6E:
          value.append(newline)
          index += 2
          continue
        case 0x72:
          value.append(carriageReturn)
          index += 2
          continue
        case 0x74:
          value.append(tab)
          index += 2
          continue
        default: break
        }
      }
      value.append(current)
      advance()
    }
    guard !atEnd else { return abandonSegment(opening: opening, line: openingLine) }
    index += 1
    return true
  }

  /// A name is shown only when it looks like one, so a pasted value is never echoed.
  static func printable(_ name: ArraySlice<UInt8>) -> String? {
    guard name.count <= 64, DotenvParser.isValidName(name) else { return nil }
    return String(decoding: name, as: UTF8.self)
  }
}
