import Foundation

/// Backup object and file names: `lockstep-backup-YYYYMMDDTHHMMSSZ.lsb`, UTC, so that
/// names sort by time and `list`/`prune` can date a backup without opening it.
public enum BackupName {
  public static let prefix = "lockstep-backup-"
  public static let suffix = ".lsb"

  public static func make(_ date: Date, sequence: Int = 1) -> String {
    prefix + compact.string(from: date) + (sequence > 1 ? "-\(sequence)" : "") + suffix
  }

  /// The time in a name made by `make` (with an optional `-N` disambiguator), else nil.
  public static func date(of name: String) -> Date? {
    guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
    let stamp = name.dropFirst(prefix.count).prefix(16)
    return compact.date(from: String(stamp))
  }

  /// The `-N` of a name (1 without one), to order backups made in the same second.
  public static func sequence(of name: String) -> Int {
    var stem = name.dropFirst(prefix.count).dropLast(suffix.count)
    if stem.hasSuffix(".snapshot") { stem = stem.dropLast(".snapshot".count) }
    guard stem.count > 17, stem.dropFirst(16).first == "-" else { return 1 }
    return Int(stem.dropFirst(17)) ?? 1
  }

  public static func iso8601(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }

  private static var compact: DateFormatter {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
    return formatter
  }
}
