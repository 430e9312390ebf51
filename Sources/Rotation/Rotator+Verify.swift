import LockstepCore

/// Step 4, verify: each target proves the new values work (and the old ones do not, where
/// that applies). The live secret is read once for every target.
extension Rotator {
  func verify() async throws -> StepResult {
    try await requireStaged()
    let live = try await store.read(policy.vault.secret)
    let context = context(live: live, step: .verify)
    return StepResult(records: try await eachTarget { try await $0.verify(context) })
  }
}
