/// The rows of one statement, copied out of libpq's `PGresult` before it was cleared, as
/// text (PostgreSQL's text output format for every type).
public struct PostgresRows: Sendable, RandomAccessCollection {
  public let columns: [String]
  /// The command tag: `SELECT 3`, `ALTER ROLE`, …
  public let commandTag: String
  /// Rows inserted, updated, deleted or returned, when the command reports a count.
  public let affectedRows: Int?
  let values: [[String?]]

  init(columns: [String], values: [[String?]], commandTag: String, affectedRows: Int?) {
    self.columns = columns
    self.values = values
    self.commandTag = commandTag
    self.affectedRows = affectedRows
  }

  public var startIndex: Int { 0 }
  public var endIndex: Int { values.count }
  public subscript(position: Int) -> PostgresRow {
    PostgresRow(columns: columns, values: values[position])
  }
}

/// One row; columns by position or by name, NULL as nil.
public struct PostgresRow: Sendable, Equatable {
  public let columns: [String]
  public let values: [String?]

  public subscript(index: Int) -> String? { values[index] }

  public subscript(column: String) -> String? {
    columns.firstIndex(of: column).flatMap { values[$0] }
  }

  public func int(_ column: String) -> Int? { self[column].flatMap { Int($0) } }

  /// PostgreSQL prints booleans as `t` and `f`.
  public func bool(_ column: String) -> Bool? {
    switch self[column] {
    case "t", "true": true
    case "f", "false": false
    default: nil
    }
  }
}
