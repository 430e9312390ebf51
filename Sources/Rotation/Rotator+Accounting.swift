import Evidence
import LockstepCore

extension Rotator {
  /// Under `strategy: single`, the sentence naming the live secret's keys the policy says
  /// nothing of (nil when every key is accounted for): a run refuses them before any change,
  /// as `rotate plan` does.
  func unaccountedKeys() throws -> String? {
    guard policy.strategy == .single, let live = try store.read(policy.vault.secret) else {
      return nil
    }
    return BlastRadius.assess(policy: policy, liveKeys: Array(live.values.keys))
      .unaccountedSentence(policy: policy)
  }

  /// The rights on the pending follow-ups record, when the policy has manual keys (it is
  /// written at finish: a missing right must stop the run before any change, not after).
  func followUpRights() throws -> [String] {
    guard !policy.manual.isEmpty else { return [] }
    let path = PendingFollowUps.path(for: policy)
    // The staging slot asks exactly what the record needs: create, read, update, delete.
    var seen = Set<String>()
    return try store.missingRights(secret: policy.vault.secret, staging: path, lock: path)
      .filter { $0.contains(path) && seen.insert($0).inserted }
  }

  /// At finish: the keys kept (with their reasons) and the manual follow-ups now pending go
  /// into the evidence, and the follow-ups into Vault for `rotate status` and `confirm`.
  func recordAccounting() throws {
    guard !policy.keep.isEmpty || !policy.manual.isEmpty else { return }
    let pending = try PendingFollowUps.recordRotation(
      lock?.rotationID ?? "", policy: policy, store: store)
    try evidence?.record(
      step: "accounting", target: policy.vault.secret,
      outcome: pending.isEmpty ? "complete" : "follow-ups pending",
      details: [
        "kept": policy.keep.map { ["key": $0.key, "reason": $0.reason] },
        "manual_pending": policy.manual.map { ["key": $0.key, "instructions": $0.instructions] },
        "pending_path": PendingFollowUps.path(for: policy),
      ])
    for item in pending {
      report(
        "finish", .info,
        "manual follow-up pending: \(item.key) (lockstep rotate confirm --key \(item.key))")
    }
  }
}
