import LockstepCore

/// Step 8, finish: the targets' last facts (log scans), then staging destroyed, the
/// evidence sealed and the lock released, in that order.
extension Rotator {
  func finish() async throws -> StepResult {
    let context = context(live: nil, step: .finish)
    for record in try await eachTarget({ try await $0.finish(context) }) {
      try self.record(.finish, record)
    }
    try await recordAccounting()
    try await store.destroy(policy.vault.staging)
    try record(
      .finish, TargetEvidence(target: policy.vault.staging, details: ["staging": "destroyed"]))
    try evidence?.seal()
    keeper?.stopHeartbeat()
    try await store.destroy(policy.vault.lock)
    if summary == nil, let live = try await store.read(policy.vault.secret) {
      summary = Summary(
        rotationID: lock?.rotationID ?? "", evidencePath: evidence?.path ?? "",
        liveVersion: live.version, stepTimes: [], sessionsRemoved: 0)
    }
    for key in Array(staged.keys) { staged[key] = nil }
    return StepResult()
  }
}
