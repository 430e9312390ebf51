/// The key names one source holds, with where each was found, and what looked wrong about
/// the source itself. Never a value: for a dotenv source only "this value is empty" is kept.
public struct KeyInventory: Sendable {
  public struct Location: Sendable, Equatable, Codable {
    public let file: String
    public let line: Int?

    public init(file: String, line: Int?) {
      self.file = file
      self.line = line
    }
  }

  /// A problem in the source that is not drift (a duplicate key, an unparsable line).
  public struct Note: Sendable, Equatable {
    public let message: String
    public let location: Location?
  }

  public let source: String
  /// The names found are a lower bound of the names used (a `code:` scan cannot see names
  /// built at run time), so a name absent here is no evidence it is unused.
  public var isLowerBound = false
  /// Key name → first place it was seen (nil where the source has no files: Vault, k8s).
  public private(set) var keys: [String: Location?] = [:]
  public private(set) var emptyValues: Set<String> = []
  public private(set) var notes: [Note] = []

  public init(source: String) { self.source = source }

  public mutating func add(_ name: String, at location: Location? = nil) {
    if keys[name] == nil { keys[name] = .some(location) }
  }

  public mutating func markEmpty(_ name: String) { emptyValues.insert(name) }

  public mutating func note(_ message: String, at location: Location? = nil) {
    notes.append(Note(message: message, location: location))
  }

  public var sortedNames: [String] { keys.keys.sorted() }

  public func location(of name: String) -> Location? { keys[name] ?? nil }
}
