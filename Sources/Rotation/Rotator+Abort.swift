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

  public func abort(reason: String) throws -> AbortOutcome {
    guard let existing = try store.read(policy.vault.lock) else {
      throw RotationError.nothingToResume(lock: policy.vault.lock)
    }
    let record = try Self.validatedLock(existing, path: policy.vault.lock)
    let sameHost = record.host == ProcessInfo.processInfo.hostName
    let ownerAlive =
      sameHost && record.pid > 0 && kill(record.pid, 0) == 0 && record.pid != getpid()
    if ownerAlive || (!sameHost && record.expiresAt > Date() && !options.forceUnlock) {
      throw RotationError.locked(path: policy.vault.lock, holder: record.holder, expired: false)
    }
    let staging = try store.read(policy.vault.staging)
    let stagedHere =
      staging?.values[Self.reservedPrefix + "rotation_id"]?.unsafeUTF8String()
      == record.rotationID
    if let staging, stagedHere { loadStaged(staging) }
    let live = try store.read(policy.vault.secret)
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
    try keeper.update { $0 = taken }
    self.keeper = keeper
    try openEvidence(record, resumed: true)

    var undone: [String] = []
    var notUndone: [String] = []
    if stagedHere, let database {
      for target in policy.postgres {
        guard let password = staged[target.passwordKey] else { continue }
        let role = rotatedRole(target)
        guard
          database.verifyLogin(role: role, password: password, database: target.verifyDatabase)
            == .accepted
        else { continue }
        guard let old = live?.values[target.passwordKey] else {
          throw RotationError.stepFailed(
            step: "abort",
            reason:
              "PostgreSQL role \(role) already has the new password and the live secret holds no previous one to set back; finish the rotation instead"
          )
        }
        try database.setPassword(role: role, password: old)
        undone.append("PostgreSQL role \(role): its password was set back to the live secret's")
        if target.terminateSessions {
          notUndone.append("the sessions of \(role) ended at apply stay ended")
        }
        if policy.strategy == .alternating {
          notUndone.append("group memberships granted to \(role) at apply stay granted")
        }
      }
    }
    if staging != nil {
      try store.destroy(policy.vault.staging)
      undone.append("the staged values at \(policy.vault.staging) were destroyed")
    }
    if policy.strategy == .single && record.steps.contains(Step.apply.rawValue) {
      notUndone.append(
        "the compromised password works again: rotate again as soon as the cause is fixed")
    }
    try evidence?.record(
      step: "abort", target: policy.vault.lock, outcome: "ok",
      details: [
        "reason": reason, "rotation_id": record.rotationID, "done_before": record.steps,
        "undone": undone, "not_undone": notUndone,
      ])
    try evidence?.seal()
    try store.destroy(policy.vault.lock)
    undone.append("the lock \(policy.vault.lock) was released")
    return AbortOutcome(
      rotationID: record.rotationID, evidencePath: evidence?.path ?? "", undone: undone,
      notUndone: notUndone)
  }
}
