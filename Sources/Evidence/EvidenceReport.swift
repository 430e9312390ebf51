import Foundation
import LockstepCore

/// Renders an incident or resolution notice (the runbook's templates) from a verified
/// evidence log: start, end, duration, who, the components touched and the actions taken.
public enum EvidenceReport {
  /// Placeholders a notice template may use, each `{{name}}`.
  public static let placeholders = [
    "start", "end", "duration", "actor", "rotation_id", "components", "actions", "public_key",
    "status", "log_matches", "interruptions", "follow_ups", "kept",
  ]

  /// Renders `template` from the log at `evidencePath`. A sealed log must verify (with
  /// `expectedKey` when given); an unsealed one (a rotation still running, or interrupted)
  /// is rendered only when `allowInProgress`, after its chain has been checked, and the
  /// notice says "in progress". `formatKey` turns the seal's hex key into the notation the
  /// user knows (`lockstepsig1…`).
  public static func render(
    template: String, evidencePath: String, expectedKey: String?, allowInProgress: Bool = false,
    formatKey: (String) -> String = { $0 }
  ) throws -> String {
    let report = try EvidenceVerifier.verify(
      path: evidencePath, expectedKey: expectedKey, allowUnsealed: allowInProgress)
    let records = try EvidenceVerifier.records(path: evidencePath)
    var values = try fields(records: records, report: report)
    values["public_key"] =
      report.sealed ? formatKey(report.publicKey) : "none yet (the log is not sealed)"
    values["status"] =
      report.sealed ? "complete" : "in progress (the evidence is not sealed yet)"
    var output = template
    for (name, value) in values {
      output = output.replacingOccurrences(of: "{{\(name)}}", with: value)
    }
    if let unknown = output.range(of: #"\{\{[a-z_]+\}\}"#, options: .regularExpression) {
      throw UserError(
        "the template uses \(output[unknown]), which is not one of: \(placeholders.joined(separator: ", "))",
        exit: .dataError)
    }
    return output
  }

  static func fields(records: [[String: Any]], report: EvidenceVerifier.Report) throws -> [String:
    String]
  {
    let parser = ISO8601DateFormatter()
    parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let start = report.firstTime.flatMap(parser.date)
    let end = report.lastTime.flatMap(parser.date)
    var duration = "unknown"
    if let start, let end {
      let seconds = Int(end.timeIntervalSince(start).rounded())
      duration = seconds >= 60 ? "\(seconds / 60) min \(seconds % 60) s" : "\(seconds) s"
    }
    var components: [String] = []
    var actions: [String] = []
    var rotationID = ""
    var matches: [String] = []
    var interruptions: [String] = []
    var followUps: [String] = []
    var kept: [String] = []
    for record in records {
      let step = record["step"] as? String ?? ""
      let target = record["target"] as? String ?? ""
      let outcome = record["outcome"] as? String ?? ""
      let details = record["details"] as? [String: Any] ?? [:]
      if let id = details["rotation_id"] as? String, rotationID.isEmpty { rotationID = id }
      if step == "logs", let counts = details["matches"] as? [String: Any] {
        for (file, count) in counts.sorted(by: { $0.key < $1.key }) {
          // A count, or why there is none ("not readable"): never "not readable matching".
          matches.append(
            count is Int
              ? "- \(file): \(count) matching line(s)"
              : "- \(file): not scanned, the file could not be read")
        }
      }
      if step == "accounting" {
        for item in details["manual_pending"] as? [String] ?? [] {
          followUps.append("- \(item) (pending until `lockstep rotate confirm`)")
        }
        for item in details["kept"] as? [String] ?? [] { kept.append("- \(item)") }
      }
      if outcome == "resumed" {
        interruptions.append(
          "- the rotation was interrupted and resumed at \(record["time"] as? String ?? "?")")
      } else if outcome == "failed" {
        interruptions.append(
          "- \(step) failed at \(record["time"] as? String ?? "?")\(target.isEmpty ? "" : " (\(target))")"
        )
      }
      guard step != "seal", step != "lock" else { continue }
      if !target.isEmpty && !components.contains(target) && step != "finish" && step != "logs"
        && step != "stage"
      {
        components.append(target)
      }
      actions.append(
        "- \(record["time"] as? String ?? ""): \(step) \(target): \(outcome)\(summary(details))")
    }
    let actor = (records.first?["actor"] as? [String: Any]).map {
      "\($0["user"] as? String ?? "?")@\($0["host"] as? String ?? "?")"
    }
    return [
      "start": report.firstTime ?? "unknown", "end": report.lastTime ?? "unknown",
      "duration": duration, "actor": actor ?? "unknown", "rotation_id": rotationID,
      "components": components.map { "- \($0)" }.joined(separator: "\n"),
      "actions": actions.joined(separator: "\n"),
      "log_matches": matches.isEmpty
        ? "- no log file was scanned" : matches.joined(separator: "\n"),
      "follow_ups": followUps.isEmpty
        ? "- none: every exposed key was rotated or kept with a reason"
        : followUps.joined(separator: "\n"),
      "kept": kept.isEmpty ? "- none" : kept.joined(separator: "\n"),
      "interruptions": interruptions.isEmpty
        ? "- none: the rotation ran without interruption" : interruptions.joined(separator: "\n"),
    ]
  }

  /// The facts worth a notice: counts and versions, never fingerprints.
  private static func summary(_ details: [String: Any]) -> String {
    var parts: [String] = []
    for key in ["version", "removed", "sessions_terminated", "rotated", "derived", "keys"] {
      guard let value = details[key] else { continue }
      if let list = value as? [String] {
        parts.append(
          "\(key.replacingOccurrences(of: "_", with: " ")) \(list.joined(separator: ", "))")
      } else {
        parts.append("\(key.replacingOccurrences(of: "_", with: " ")) \(value)")
      }
    }
    return parts.isEmpty ? "" : " (\(parts.joined(separator: "; ")))"
  }
}
