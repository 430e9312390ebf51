import Foundation

/// The lines of a checkup, as text for people and JSON for machines.
public struct CheckupReport: Sendable, Equatable {
  public let results: [CheckResult]

  public init(results: [CheckResult]) {
    self.results = results
  }

  /// True when no configured check failed (skipped checks do not count against it).
  public var passed: Bool { !results.contains { $0.status == .failed } }

  /// One sentence per failure, for stderr.
  public var problems: [String] { results.compactMap(\.problem) }

  /// The lines for a terminal: mark, name in a column, detail. `paint` may colour the mark.
  public func lines(paint: (CheckResult.Status, String) -> String = { $1 }) -> [String] {
    let width = results.map(\.name.count).max() ?? 0
    return results.map { result in
      let name = result.name.padding(toLength: width, withPad: " ", startingAt: 0)
      return "\(paint(result.status, result.status.symbol)) \(name)  \(result.detail)"
    }
  }

  /// `{"ok": …, "checks": [{"system", "name", "status", "detail", "problem"?}]}`.
  public func json() -> String {
    struct Wire: Encodable {
      let ok: Bool
      let checks: [Check]
    }
    struct Check: Encodable {
      let system: String
      let name: String
      let status: String
      let detail: String
      let problem: String?
    }
    let wire = Wire(
      ok: passed,
      checks: results.map {
        Check(
          system: $0.system, name: $0.name, status: $0.status.rawValue, detail: $0.detail,
          problem: $0.problem)
      })
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(wire)) ?? Data("{\"ok\":false,\"checks\":[]}".utf8)
    return String(decoding: data, as: UTF8.self)
  }
}
