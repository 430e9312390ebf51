import Evidence
import LockstepCore

extension Rotator {
  /// Under `strategy: single`, the sentence naming the live secret's keys the policy says
  /// nothing of (nil when every key is accounted for): a run refuses them before any change,
  /// as `rotate plan` does.
  func unaccountedKeys() async throws -> String? {
    guard policy.strategy == .single, let live = try await store.read(policy.vault.secret) else {
      return nil
    }
    return BlastRadius.assess(policy: policy, liveKeys: Array(live.values.keys))
      .unaccountedSentence(policy: policy)
  }

  /// The rights on the pending follow-ups record, when the policy has manual keys (it is
  /// written at finish: a missing right must stop the run before any change, not after).
  func followUpRights() async throws -> [String] {
    guard !policy.manual.isEmpty else { return [] }
    let path = PendingFollowUps.path(for: policy)
    // The staging slot asks exactly what the record needs: create, read, update, delete.
    var seen = Set<String>()
    return try await store.missingRights(secret: policy.vault.secret, staging: path, lock: path)
      .filter { $0.contains(path) && seen.insert($0).inserted }
  }

  /// At finish: the keys kept (with their reasons) and the manual follow-ups now pending go
  /// into the evidence, and the follow-ups into Vault for `rotate status` and `confirm`.
  func recordAccounting() async throws {
    guard !policy.keep.isEmpty || !policy.manual.isEmpty else { return }
    let pending = try await PendingFollowUps.recordRotation(
      lock?.rotationID ?? "", policy: policy, store: store)
    try record(
      "accounting",
      TargetEvidence(
        target: policy.vault.secret,
        outcome: pending.isEmpty ? "complete" : "follow-ups pending",
        details: [
          "kept": .list(policy.keep.map { "\($0.key): \($0.reason)" }),
          "manual_pending": .list(
            policy.manual.map { $0.instructions.isEmpty ? $0.key : "\($0.key): \($0.instructions)" }
          ),
          "pending_path": .text(PendingFollowUps.path(for: policy)),
        ]))
    for item in pending {
      report(
        "finish", .info,
        "manual follow-up pending: \(item.key) (lockstep rotate confirm --key \(item.key))")
    }
  }

  /// How many times this rotation was resumed, from its trail (`resumed` records).
  var resumptions: Int {
    (evidence?.contents() ?? lock?.evidenceChain ?? "").components(
      separatedBy: "\"outcome\":\"resumed\""
    ).count - 1
  }
}
