import Foundation

extension RetentionPolicy {
  /// The policy applied to KV backups and to Raft snapshot backups separately: a
  /// destination holding both keeps, say, the newest of each per day, not one of either.
  public func applyPerKind(_ entries: [BackupDestination.Entry]) throws
    -> (keep: [BackupDestination.Entry], remove: [BackupDestination.Entry])
  {
    let plan = try planPerKind(entries)
    return (plan.keep, plan.remove)
  }

  /// `plan` for each kind of backup on its own (KV backups and Raft snapshots each keep
  /// their own newest N), merged newest first; future-dated names are in neither list.
  public func planPerKind(_ entries: [BackupDestination.Entry], now: Date = Date()) throws -> Plan {
    guard !isEmpty else { throw BackupError.emptyRetentionPolicy }
    var merged = Plan(keep: [], remove: [], future: [])
    let kinds = Dictionary(grouping: entries) { BackupName.kind(of: $0.name) }
    for kind in kinds.keys.sorted() {
      let plan = try plan(kinds[kind] ?? [], now: now)
      merged.keep += plan.keep
      merged.remove += plan.remove
      merged.future += plan.future
    }
    let newestFirst: (BackupDestination.Entry, BackupDestination.Entry) -> Bool = {
      ($0.date, BackupName.sequence(of: $0.name)) > ($1.date, BackupName.sequence(of: $1.name))
    }
    merged.keep.sort(by: newestFirst)
    merged.remove.sort(by: newestFirst)
    merged.future.sort(by: newestFirst)
    return merged
  }
}
