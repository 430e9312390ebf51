import LockstepCore

/// One `NAME=value` binding of a `.env` file. The value is a `SecretBytes` because a `.env`
/// file is where secrets end up; callers that only need names never touch it.
public struct DotenvEntry: Sendable {
  public let name: String
  public let value: SecretBytes
  /// 1-based line of the name, for annotations that point at the file.
  public let line: Int

  public init(name: String, value: SecretBytes, line: Int) {
    self.name = name
    self.value = value
    self.line = line
  }
}

/// A problem found while parsing; it names a line, the reason and, where it is safe, a key
/// name, never the line's text (which may be a pasted value: a token, a PEM body line).
public struct DotenvIssue: Sendable, Equatable, CustomStringConvertible {
  public enum Kind: Sendable, Equatable {
    /// The name was bound before, at `firstLine`; the last binding wins (as in every parser).
    case duplicateKey(firstLine: Int)
    /// The name is not `[A-Za-z_][A-Za-z0-9_]*`, so a shell could not export it.
    case invalidName
    /// A line with a name and no `=`.
    case missingEquals
    /// A quote opened on this line is never closed.
    case unterminatedQuote
    /// Text after a closing quote that is neither a comment nor the end of the line.
    case unexpectedText
    /// An unquoted value opening a PEM block whose body lines follow; they are skipped.
    case unquotedMultiline
  }

  public let line: Int
  public let kind: Kind
  /// The key name when it is printable as a name; nil when printing it could leak a value
  /// (a line of garbage, a URL pasted without `NAME=`).
  public let name: String?

  public init(line: Int, kind: Kind, name: String?) {
    self.line = line
    self.kind = kind
    self.name = name
  }

  public var description: String {
    let subject = name.map { "key \($0)" } ?? "this line"
    switch kind {
    case .duplicateKey(let first):
      return "line \(line): \(subject) is defined again (first on line \(first))"
    case .invalidName:
      return "line \(line): \(name.map { "\($0) is" } ?? "the name is") not a valid variable name"
    case .missingEquals: return "line \(line): \(subject) has no '=' (its text is not shown)"
    case .unterminatedQuote: return "line \(line): a quote opened for \(subject) is never closed"
    case .unexpectedText:
      return "line \(line): unexpected text after the closing quote of \(subject)"
    case .unquotedMultiline:
      return
        "line \(line): the value of \(subject) spans several lines but is not quoted; the lines after it are skipped (quote the value)"
    }
  }
}

/// What the parser found: bindings in file order (last binding of a name wins) and issues.
public struct DotenvDocument: Sendable {
  public let entries: [DotenvEntry]
  public let issues: [DotenvIssue]

  /// Names in file order, each once.
  public var names: [String] { entries.map(\.name) }

  public func entry(named name: String) -> DotenvEntry? {
    entries.first { $0.name == name }
  }
}
