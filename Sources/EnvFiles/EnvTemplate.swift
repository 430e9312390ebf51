import Vault

/// A `.env` template: comments, blank lines and literal bindings are kept as written, and
/// `{{ KEY }}` (the secret given with `--vault`) or `{{ MOUNT/PATH:KEY }}` (another secret)
/// placeholders are replaced by values, quoted for the dialect.
///
/// A line with a placeholder is `[export ]NAME=` followed by text and placeholders; the
/// whole text after `=` (trimmed) is the value, so such a line carries no comment: a blank
/// then `#` in its text is refused rather than rendered into the value.
public struct EnvTemplate: Sendable {
  public struct Reference: Sendable, Hashable {
    /// nil for the default secret.
    public let path: String?
    public let key: String
  }

  public enum Part: Sendable, Equatable {
    case text(String)
    case placeholder(Reference)
  }

  public enum Line: Sendable {
    case literal(String)
    /// `prefix` is `NAME=` or `export NAME=`.
    case binding(prefix: String, name: String, parts: [Part])
  }

  public let lines: [Line]

  /// Every secret the template reads, in first-use order.
  public var references: [Reference] {
    var seen = Set<Reference>()
    var ordered: [Reference] = []
    for case .binding(_, _, let parts) in lines {
      for case .placeholder(let reference) in parts where seen.insert(reference).inserted {
        ordered.append(reference)
      }
    }
    return ordered
  }

  public init(parsing text: String) throws(EnvFilesError) {
    var lines: [Line] = []
    var rows = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if rows.last == "" { rows.removeLast() }
    for (offset, row) in rows.enumerated() {
      guard row.contains("{{") else {
        lines.append(.literal(row))
        continue
      }
      lines.append(try Self.binding(row, line: offset + 1))
    }
    self.lines = lines
  }

  static func binding(_ row: String, line: Int) throws(EnvFilesError) -> Line {
    let trimmed = row.drop { $0 == " " || $0 == "\t" }
    if trimmed.hasPrefix("#") { return .literal(row) }
    guard let equals = trimmed.firstIndex(of: "=") else {
      throw .templateSyntax(line: line, reason: "a placeholder must follow NAME=")
    }
    var head = String(trimmed[..<equals]).trimmingBlanks()
    var export = false
    if head.hasPrefix("export ") || head.hasPrefix("export\t") {
      export = true
      head = String(head.dropFirst(7)).trimmingBlanks()
    }
    guard DotenvParser.isValidName(head) else {
      throw .templateSyntax(line: line, reason: "the name before '=' is not a valid variable name")
    }
    let body = String(trimmed[trimmed.index(after: equals)...]).trimmingBlanks()
    var parts: [Part] = []
    var rest = Substring(body)
    while let open = rest.range(of: "{{") {
      if open.lowerBound > rest.startIndex {
        parts.append(.text(String(rest[..<open.lowerBound])))
      }
      guard let close = rest[open.upperBound...].range(of: "}}") else {
        throw .templateSyntax(line: line, reason: "a '{{' is not closed by '}}'")
      }
      let inner = rest[open.upperBound..<close.lowerBound].trimmingBlanks()
      parts.append(.placeholder(try reference(inner, line: line)))
      rest = rest[close.upperBound...]
    }
    if !rest.isEmpty { parts.append(.text(String(rest))) }
    // `A={{ KEY }} # note` would render the comment into the value, quoted: refused.
    for case .text(let text) in parts where text.contains(" #") || text.contains("\t#") {
      throw .templateSyntax(
        line: line,
        reason:
          "' #' after '=' would become part of the value, not a comment: put the comment on a line of its own"
      )
    }
    return .binding(prefix: (export ? "export " : "") + head + "=", name: head, parts: parts)
  }

  static func reference(_ text: String, line: Int) throws(EnvFilesError) -> Reference {
    let keyCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
    var path: String?
    var key = text
    if let colon = text.lastIndex(of: ":") {
      path = String(text[..<colon])
      key = String(text[text.index(after: colon)...])
    }
    guard !key.isEmpty, key.allSatisfy(keyCharacters.contains), path.map({ !$0.isEmpty }) ?? true
    else {
      throw .templateSyntax(
        line: line, reason: "a placeholder must be {{ KEY }} or {{ MOUNT/PATH:KEY }}")
    }
    if let path {
      // Templates live in application repositories: a placeholder names a KV secret by
      // plain segments, never `..`, `.` or an empty segment (the Vault client then refuses
      // any mount that is not KV).
      do {
        _ = try VaultPath(path)
      } catch {
        throw .templateSyntax(line: line, reason: error.reason)
      }
    }
    return Reference(path: path, key: key)
  }
}

extension StringProtocol {
  func trimmingBlanks() -> String {
    var slice = Substring(self)
    while let first = slice.first, first == " " || first == "\t" || first == "\r" {
      slice = slice.dropFirst()
    }
    while let last = slice.last, last == " " || last == "\t" || last == "\r" {
      slice = slice.dropLast()
    }
    return String(slice)
  }
}
