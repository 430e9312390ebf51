/// Step 3, apply: each target changes its system to accept the new values, before Vault's
/// live secret holds them (PostgreSQL role passwords…).
extension Rotator {
  func apply() async throws -> StepResult {
    try await requireStaged()
    let context = context(live: nil, step: .apply)
    return StepResult(records: try await eachTarget { try await $0.apply(context) })
  }
}
