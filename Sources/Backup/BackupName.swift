import Foundation

/// Backup object and file names: `lockstep-backup-YYYYMMDDTHHMMSSZ.lsb`, UTC, so that
/// names sort by time and `list`/`prune` can date a backup without opening it.
public enum BackupName {
  public static let prefix = "lockstep-backup-"
  public static let suffix = ".lsb"

  public static func make(_ date: Date, sequence: Int = 1) -> String {
    prefix + compact.string(from: date) + (sequence > 1 ? "-\(sequence)" : "") + suffix
  }

  /// The time in a name made by `make` or `makeSnapshot` (with an optional `-N`
  /// disambiguator), else nil. Exactly `prefix` + `YYYYMMDDTHHMMSSZ` + optional `-N` (N ≥ 2,
  /// digits) + `suffix` or `snapshotSuffix`.
  public static func date(of name: String) -> Date? {
    guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
    let ending = name.hasSuffix(snapshotSuffix) ? snapshotSuffix : suffix
    let stem = Array(name.utf8.dropFirst(prefix.utf8.count).dropLast(ending.utf8.count))
    guard stem.count >= 16 else { return nil }
    let digits = (0..<16).filter { $0 != 8 && $0 != 15 }
    guard digits.allSatisfy({ stem[$0] >= 0x30 && stem[$0] <= 0x39 }), stem[8] == 0x54,
      stem[15] == 0x5A
    else { return nil }
    if stem.count > 16 {
      let rest = stem[17...]
      guard stem[16] == UInt8(ascii: "-"), !rest.isEmpty, rest.count <= 6,
        rest.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), rest.first != 0x30
      else { return nil }
    }
    let stamp = String(decoding: stem[0..<16], as: UTF8.self)
    // The formatter is lenient (it takes month 13); the round trip must give the same text.
    guard let date = compact.date(from: stamp), compact.string(from: date) == stamp else {
      return nil
    }
    return date
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
