import Foundation

/// restic's `forget` semantics: each rule keeps the newest backup of each of the last N
/// periods that have one (hour, day, ISO week, month, in UTC), `last` keeps the N newest;
/// a backup kept by any rule stays. An empty policy is refused rather than deleting all.
public struct RetentionPolicy: Sendable, Equatable {
  public var last = 0
  public var hourly = 0
  public var daily = 0
  public var weekly = 0
  public var monthly = 0

  public init(last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0) {
    self.last = last
    self.hourly = hourly
    self.daily = daily
    self.weekly = weekly
    self.monthly = monthly
  }

  public var isEmpty: Bool { last <= 0 && hourly <= 0 && daily <= 0 && weekly <= 0 && monthly <= 0 }

  /// How far in the future a backup's name may be dated (clock skew between the machine
  /// that made it and the one pruning) and still count.
  public static let clockSkewAllowance: TimeInterval = 300

  /// What `prune` does with a destination's backups.
  public struct Plan: Sendable {
    public var keep: [BackupDestination.Entry]
    public var remove: [BackupDestination.Entry]
    /// Named more than `clockSkewAllowance` after `now`: never counted, never removed
    /// (anyone who can write to the bucket can create such names, and counting them would
    /// push real backups out of the policy).
    public var future: [BackupDestination.Entry]
  }

  /// Splits `entries` into kept, removed and ignored (future-dated), newest first.
  public func plan(_ entries: [BackupDestination.Entry], now: Date = Date()) throws -> Plan {
    let limit = now.addingTimeInterval(Self.clockSkewAllowance)
    let future = entries.filter { $0.date > limit }
    let (keep, remove) = try apply(entries.filter { $0.date <= limit }, unfiltered: true)
    return Plan(keep: keep, remove: remove, future: future)
  }

  /// Splits `entries` into kept and removed (both newest first). Entries dated after `now`
  /// plus the clock-skew allowance are in neither.
  public func apply(_ entries: [BackupDestination.Entry], now: Date = Date()) throws
    -> (keep: [BackupDestination.Entry], remove: [BackupDestination.Entry])
  {
    let plan = try plan(entries, now: now)
    return (plan.keep, plan.remove)
  }

  private func apply(_ entries: [BackupDestination.Entry], unfiltered: Bool) throws
    -> (keep: [BackupDestination.Entry], remove: [BackupDestination.Entry])
  {
    guard !isEmpty else { throw BackupError.emptyRetentionPolicy }
    let sorted = entries.sorted {
      ($0.date, BackupName.sequence(of: $0.name)) > ($1.date, BackupName.sequence(of: $1.name))
    }
    var calendar = Calendar(identifier: .iso8601)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    var kept = Set<Int>()
    for (index, _) in sorted.enumerated() where index < last { kept.insert(index) }
    func bucketRule(_ count: Int, _ bucket: (Date) -> [Int]) {
      guard count > 0 else { return }
      var seen: [[Int]] = []
      for (index, entry) in sorted.enumerated() {
        let key = bucket(entry.date)
        if seen.last == key || seen.contains(key) { continue }
        seen.append(key)
        kept.insert(index)
        if seen.count == count { break }
      }
    }
    bucketRule(hourly) { calendar.dateComponents([.year, .month, .day, .hour], from: $0).list }
    bucketRule(daily) { calendar.dateComponents([.year, .month, .day], from: $0).list }
    bucketRule(weekly) {
      let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: $0)
      return [parts.yearForWeekOfYear ?? 0, parts.weekOfYear ?? 0]
    }
    bucketRule(monthly) { calendar.dateComponents([.year, .month], from: $0).list }
    var keep: [BackupDestination.Entry] = []
    var remove: [BackupDestination.Entry] = []
    for (index, entry) in sorted.enumerated() {
      if kept.contains(index) { keep.append(entry) } else { remove.append(entry) }
    }
    return (keep, remove)
  }
}

extension DateComponents {
  fileprivate var list: [Int] { [year ?? 0, month ?? 0, day ?? 0, hour ?? 0] }
}
