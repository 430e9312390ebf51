import LockstepCore

/// Step 6, deploy: each target hands the new values to its consumers. Each target's deploy
/// is recorded on its own (`deploy:<id>` in the lock), so a resume skips those done.
extension Rotator {
  func deploy() async throws -> StepResult {
    try await requireStaged()
    let context = context(live: nil, step: .deploy)
    for target in policy.targets {
      let marker = "\(Step.deploy.rawValue):\(target.id)"
      if lock?.steps.contains(marker) ?? false { continue }
      try await stopIfInterrupted(before: marker)
      currentTarget = target.label
      let records = try await target.deploy(context)
      guard !records.isEmpty else { continue }
      for record in records { try self.record(.deploy, record) }
      try await markDone(marker)
    }
    currentTarget = nil
    return StepResult()
  }
}
