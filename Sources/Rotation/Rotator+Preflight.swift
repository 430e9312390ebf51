import LockstepCore

/// Before any side effect: every reference of the policy proven and every right held. A
/// half-rotated system because step 5 lacked a permission, or a Secret no pod reads, is
/// what this prevents. The checks are `RotationPreflight`'s, the same doctor shows.
extension Rotator {
  func preflight(resuming: Bool) async throws {
    let checks = await RotationPreflight(policy: policy, store: store, services: services)
      .run(resuming: resuming)
    if let own = checks.first(where: \.ownCredential) {
      throw RotationError.ownCredential(own.detail)
    }
    var problems = checks.compactMap(\.problem)
    if !resuming, let sentence = try await unaccountedKeys() { problems.append(sentence) }
    problems += try await followUpRights()
    guard problems.isEmpty else {
      let why = problems.joined(separator: "; ")
      // A resumed rotation may have changed things already: say it stays resumable, never
      // "nothing was changed".
      if resuming, (try? await store.read(policy.vault.lock)) != nil {
        throw RotationError.stepFailed(step: "preflight", reason: why)
      }
      throw RotationError.preflight(why)
    }
  }
}
