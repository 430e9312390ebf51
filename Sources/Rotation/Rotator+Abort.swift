import Evidence
import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// `rotate abort`: gives up an unfinished rotation before promote. It undoes what can be
/// undone (a PostgreSQL password already changed is set back to the live one, the staging
/// copy is destroyed, the lock released), records why, seals the evidence, and says what
/// cannot be undone. After promote the live secret holds the new values and applications
/// may already use them: then only `resume` is safe, and abort refuses.
extension Rotator {
  public struct AbortOutcome: Sendable {
    public var rotationID: String
    public var evidencePath: String
    public var undone: [String]
    public var notUndone: [String]
  }

  public func abort(reason: String) async throws -> AbortOutcome {
    guard let existing = try await store.read(policy.vault.lock) else {
      throw RotationError.nothingToResume(lock: policy.vault.lock)
    }
    let record = try Self.validatedLock(existing, path: policy.vault.lock)
    let sameHost = record.host == ProcessInfo.processInfo.hostName
    let ownerAlive =
      sameHost && record.pid > 0 && kill(record.pid, 0) == 0 && record.pid != getpid()
    if ownerAlive || (!sameHost && record.expiresAt > Date() && !options.forceUnlock) {
      throw RotationError.locked(path: policy.vault.lock, holder: record.holder, expired: false)
    }
    let staging = try await store.read(policy.vault.staging)
    let stagedHere =
      staging?.values[Self.reservedPrefix + "rotation_id"]?.unsafeUTF8String()
      == record.rotationID
    if let staging, stagedHere { loadStaged(staging) }
    let live = try await store.read(policy.vault.secret)
    let promoted =
      record.steps.contains(Step.promote.rawValue)
      || (stagedHere && policy.changedKeys.allSatisfy { live?.values[$0] == staged[$0] })
    guard !promoted else { throw RotationError.promotedAlready(lock: policy.vault.lock) }

    var taken = record
    taken.pid = getpid()
    taken.host = ProcessInfo.processInfo.hostName
    let keeper = LockKeeper(
      store: store, path: policy.vault.lock, record: record, version: existing.version,
      ttl: policy.vault.lockTTL)
    let adopted = taken
    try await keeper.update { $0 = adopted }
    self.keeper = keeper
    try openEvidence(record, resumed: true)

    var undone: [String] = []
    var notUndone: [String] = []
    if stagedHere {
      let context = context(live: live, step: .apply)
      for target in policy.targets {
        let (done, notDone) = try await target.undo(context)
        undone += done
        notUndone += notDone
      }
    }
    if staging != nil {
      try await store.destroy(policy.vault.staging)
      undone.append("the staged values at \(policy.vault.staging) were destroyed")
    }
    if policy.strategy == .single && record.steps.contains(Step.apply.rawValue) {
      notUndone.append(
        "the compromised password works again: rotate again as soon as the cause is fixed")
    }
    try self.record(
      "abort",
      TargetEvidence(
        target: policy.vault.lock,
        details: [
          "reason": .text(reason), "rotation_id": .text(record.rotationID),
          "done_before": .list(record.steps), "undone": .list(undone),
          "not_undone": .list(notUndone),
        ]))
    try evidence?.seal()
    try await store.destroy(policy.vault.lock)
    undone.append("the lock \(policy.vault.lock) was released")
    return AbortOutcome(
      rotationID: record.rotationID, evidencePath: evidence?.path ?? "", undone: undone,
      notUndone: notUndone)
  }
}
