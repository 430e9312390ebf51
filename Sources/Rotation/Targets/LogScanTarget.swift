import Foundation
import LockstepCore

/// `targets.logs`: a log file whose lines containing `pattern` (a fixed string, the
/// runbook's `grep unauthorized`) are counted at finish, for the evidence.
public struct LogScanTarget: RotationTarget, Equatable {
  public var path: String
  public var pattern: String

  public static let section = "logs"

  public static func parse(_ node: PolicyNode) throws(PolicyError) -> LogScanTarget {
    let fields = try node.fields(allowed: ["path", "pattern"])
    return LogScanTarget(
      path: try fields.required("path").string(), pattern: try fields.required("pattern").string())
  }

  public var label: String { "log file \(path)" }

  public func finish(_ context: StepContext) async throws -> [TargetEvidence] {
    [
      TargetEvidence(
        target: "log files",
        details: ["matches": .object([path: Self.count(pattern: pattern, path: path)])],
        step: "logs")
    ]
  }

  public func plan(_ context: PlanContext) -> [PlanLine] {
    [PlanLine(.finish, "count the lines of \(path) containing \"\(pattern)\"")]
  }

  /// The number of lines containing the pattern, or why the file could not be read. A
  /// fixed string, not a regular expression: the count is a fact to record, and a fixed
  /// string cannot be mistyped into matching everything.
  static func count(pattern: String, path: String) -> EvidenceValue {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "not readable" }
    defer { try? handle.close() }
    let needle = Array(pattern.utf8)
    var count = 0
    var carry: [UInt8] = []
    while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
      var buffer = carry
      buffer.append(contentsOf: chunk)
      let lines = buffer.split(separator: 0x0A, omittingEmptySubsequences: false)
      carry = Array(lines.last ?? [])
      for line in lines.dropLast() where contains(line, needle) { count += 1 }
    }
    if contains(carry[...], needle) { count += 1 }
    return .number(count)
  }

  private static func contains(_ line: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, line.count >= needle.count else { return false }
    var index = line.startIndex
    while index + needle.count <= line.endIndex {
      if line[index] == needle[0] && line[index..<index + needle.count].elementsEqual(needle) {
        return true
      }
      index += 1
    }
    return false
  }
}

extension RotationPolicy {
  /// The log scans, in policy order.
  public var logs: [LogScanTarget] { targets(LogScanTarget.self) }
  public typealias LogScan = LogScanTarget
}
