import Foundation

extension RetentionPolicy {
  /// The policy applied to KV backups and to Raft snapshot backups separately: a
  /// destination holding both keeps, say, the newest of each per day, not one of either.
  public func applyPerKind(_ entries: [BackupDestination.Entry]) throws
    -> (keep: [BackupDestination.Entry], remove: [BackupDestination.Entry])
  {
    guard !isEmpty else { throw BackupError.emptyRetentionPolicy }
    var keep: [BackupDestination.Entry] = []
    var remove: [BackupDestination.Entry] = []
    let kinds = Dictionary(grouping: entries) { BackupName.kind(of: $0.name) }
    for kind in kinds.keys.sorted() {
      let (kept, removed) = try apply(kinds[kind] ?? [])
      keep += kept
      remove += removed
    }
    let newestFirst: (BackupDestination.Entry, BackupDestination.Entry) -> Bool = {
      ($0.date, BackupName.sequence(of: $0.name)) > ($1.date, BackupName.sequence(of: $1.name))
    }
    return (keep.sorted(by: newestFirst), remove.sorted(by: newestFirst))
  }
}
