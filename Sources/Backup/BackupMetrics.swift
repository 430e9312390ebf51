import Envelope
import Foundation
import LockstepCore

/// The Prometheus textfile (node_exporter's textfile collector) a scheduled backup leaves
/// behind, so that an alert can fire when backups stop succeeding.
public enum BackupMetrics {
  /// Writes the success gauges; keeps nothing from an earlier file.
  public static func writeSuccess(
    _ result: BackupCreator.Result, at date: Date, to path: String
  ) throws {
    let text = render(
      lastSuccess: date.timeIntervalSince1970, lastFailure: nil, result: result, success: true)
    try write(text, to: path)
  }

  /// Records a failure, keeping the last success time (and its figures) of the old file.
  public static func writeFailure(at date: Date, to path: String) throws {
    let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    var kept: [String] = []
    for line in old.split(separator: "\n") where !line.hasPrefix("#") {
      let name = line.split(separator: " ").first.map(String.init) ?? ""
      if [
        "lockstep_backup_last_success_timestamp_seconds", "lockstep_backup_secrets",
        "lockstep_backup_versions", "lockstep_backup_bytes", "lockstep_backup_duration_seconds",
      ].contains(name) {
        kept.append(String(line))
      }
    }
    var text = header
    text += kept.map { $0 + "\n" }.joined()
    text += "lockstep_backup_last_failure_timestamp_seconds \(Int(date.timeIntervalSince1970))\n"
    text += "lockstep_backup_success 0\n"
    try write(text, to: path)
  }

  static let header = """
    # HELP lockstep_backup_last_success_timestamp_seconds When the last backup succeeded.
    # TYPE lockstep_backup_last_success_timestamp_seconds gauge
    # HELP lockstep_backup_last_failure_timestamp_seconds When the last backup failed.
    # TYPE lockstep_backup_last_failure_timestamp_seconds gauge
    # HELP lockstep_backup_success 1 if the last backup run succeeded, else 0.
    # TYPE lockstep_backup_success gauge
    # HELP lockstep_backup_secrets Secret paths in the last successful backup.
    # TYPE lockstep_backup_secrets gauge
    # HELP lockstep_backup_versions Secret versions in the last successful backup.
    # TYPE lockstep_backup_versions gauge
    # HELP lockstep_backup_bytes Size of the last successful backup file in bytes.
    # TYPE lockstep_backup_bytes gauge
    # HELP lockstep_backup_duration_seconds Duration of the last successful backup.
    # TYPE lockstep_backup_duration_seconds gauge

    """

  static func render(
    lastSuccess: Double, lastFailure: Double?, result: BackupCreator.Result, success: Bool
  ) -> String {
    var text = header
    text += "lockstep_backup_last_success_timestamp_seconds \(Int(lastSuccess))\n"
    text += "lockstep_backup_success \(success ? 1 : 0)\n"
    text += "lockstep_backup_secrets \(result.paths)\n"
    text += "lockstep_backup_versions \(result.versions)\n"
    text += "lockstep_backup_bytes \(result.bytes)\n"
    text += "lockstep_backup_duration_seconds \(String(format: "%.3f", result.durationSeconds))\n"
    return text
  }

  /// node_exporter may read at any moment: temp file + rename, world-readable (no secrets).
  private static func write(_ text: String, to path: String) throws {
    let file = try AtomicFile(path: path, mode: 0o644)
    try Array(text.utf8).withUnsafeBytes { try file.write($0) }
    try file.commit()
  }
}
