import LockstepCore

/// Step 5, promote: the live secret gets the staged values with check-and-set on the
/// version staging was based on; every other key is kept, JSON keys as JSON.
extension Rotator {
  func promote() async throws -> StepResult {
    try await requireStaged()
    guard let live = try await store.read(policy.vault.secret) else {
      throw RotationError.liveSecretMissing(path: policy.vault.secret)
    }
    let changed = policy.changedKeys
    if changed.allSatisfy({ live.values[$0] == staged[$0] }) {
      return StepResult(
        records: [promotion(version: live.version, from: live)],
        note: "\(policy.vault.secret) v\(live.version) already holds the new values")
    }
    var values = live.values
    if live.version != baseVersion {
      guard options.rebase else {
        throw RotationError.casConflict(
          path: policy.vault.secret, expected: baseVersion, found: live.version,
          staging: policy.vault.staging)
      }
      // Derived values are rendered again from the newer live secret.
      for derived in policy.derive {
        staged[derived.key] = try derived.template.render(
          values: { self.staged[$0] ?? live.values[$0] }, current: live.values[derived.key])
      }
    }
    for key in changed { values[key] = staged[key] }
    let jsonKeys = live.jsonKeys.subtracting(changed)
    let version: Int
    do {
      version = try await store.write(
        policy.vault.secret, values, cas: live.version, jsonKeys: jsonKeys)
    } catch is StoreConflict {
      let found = (try? await store.read(policy.vault.secret))??.version ?? -1
      throw RotationError.casConflict(
        path: policy.vault.secret, expected: live.version, found: found,
        staging: policy.vault.staging)
    }
    return StepResult(records: [promotion(version: version, from: live)])
  }

  private func promotion(version: Int, from live: VersionedSecret) -> TargetEvidence {
    let changed = policy.changedKeys
    let kept = live.values.keys.filter { !changed.contains($0) }.sorted()
    summary = Summary(
      rotationID: lock?.rotationID ?? "", evidencePath: evidence?.path ?? "", liveVersion: version,
      stepTimes: [], sessionsRemoved: 0)
    return TargetEvidence(
      target: policy.vault.secret,
      details: [
        "previous_version": .number(baseVersion), "version": .number(version),
        "changed": .list(changed), "kept": .list(kept),
      ])
  }
}
