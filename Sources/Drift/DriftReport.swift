/// The result of comparing sources against the expected key set. Names and locations only.
public struct DriftReport: Sendable, Codable, Equatable {
  public struct Finding: Sendable, Codable, Equatable {
    public let key: String
    /// Where the key is: in the expected source for a missing key, in the compared source
    /// for an extra one (when the source has files).
    public let file: String?
    public let line: Int?
  }

  public struct Warning: Sendable, Codable, Equatable {
    /// `case`, `empty` or `source`.
    public let kind: String
    public let key: String?
    public let message: String
    public let file: String?
    public let line: Int?
  }

  public struct SourceResult: Sendable, Codable, Equatable {
    public let source: String
    public let count: Int
    /// Which way this source was compared (never `auto`).
    public let direction: DriftDirection
    public let missing: [Finding]
    public let extra: [Finding]
    public let warnings: [Warning]

    public var hasDrift: Bool { !missing.isEmpty || !extra.isEmpty }
  }

  public struct Expected: Sendable, Codable, Equatable {
    public let source: String
    public let count: Int
    /// The expected names after `--ignore`, sorted.
    public let keys: [String]
    public let warnings: [Warning]
  }

  public let expected: Expected
  public let sources: [SourceResult]
  public let ignored: [String]

  public var hasDrift: Bool { sources.contains(where: \.hasDrift) }
  public var missingCount: Int { sources.reduce(0) { $0 + $1.missing.count } }
  public var extraCount: Int { sources.reduce(0) { $0 + $1.extra.count } }
  public var warningCount: Int {
    expected.warnings.count + sources.reduce(0) { $0 + $1.warnings.count }
  }
}
