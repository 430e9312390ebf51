import LockstepCore

/// Step 7, invalidate: each target revokes what the old values granted (sessions, an old
/// password kept valid during the rollout).
extension Rotator {
  func invalidate() async throws -> StepResult {
    let context = context(live: nil, step: .invalidate)
    let records = try await eachTarget { try await $0.invalidate(context) }
    for record in records {
      if case .number(let removed)? = record.details["removed"] {
        summary?.sessionsRemoved += removed
      }
    }
    return StepResult(records: records)
  }
}
