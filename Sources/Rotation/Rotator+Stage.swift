import Evidence
import LockstepCore

/// Step 2, stage: the new values are generated and written to the staging path before any
/// system is changed, so a crash after this point finds them there. Reads staging and the
/// live secret once each.
extension Rotator {
  func stage() async throws -> StepResult {
    guard let lock else { return StepResult() }
    let existing = try await store.read(policy.vault.staging)
    if let existing,
      existing.values[Self.reservedPrefix + "rotation_id"]?.unsafeUTF8String() == lock.rotationID
    {
      loadStaged(existing)
      return StepResult(
        note: "reusing the values staged at \(policy.vault.staging) v\(existing.version)")
    }
    guard let live = try await store.read(policy.vault.secret) else {
      throw RotationError.liveSecretMissing(path: policy.vault.secret)
    }
    var values: [String: SecretBytes] = [:]
    for key in policy.rotate {
      let value = key.generator.generate()
      if let old = live.values[key.key], old == value {
        throw RotationError.stepFailed(step: "stage", reason: "the generator repeated a value")
      }
      values[key.key] = value
    }
    for target in policy.targets {
      currentTarget = target.label
      let context = StageContext(policy: policy, live: live, generated: values)
      values.merge(try target.stage(context)) { _, new in new }
    }
    currentTarget = nil
    for derived in policy.derive {
      values[derived.key] = try derived.template.render(
        values: { values[$0] ?? live.values[$0] }, current: live.values[derived.key])
    }
    values[Self.reservedPrefix + "rotation_id"] = SecretBytes(utf8: lock.rotationID)
    values[Self.reservedPrefix + "base_version"] = SecretBytes(utf8: String(live.version))
    let version = try await store.write(
      policy.vault.staging, values, cas: existing?.version ?? 0)
    loadStaged(VersionedSecret(version: version, values: values))
    var fingerprints: [String: EvidenceValue] = [:]
    for key in policy.changedKeys {
      fingerprints[key] = .object([
        "old": .text(live.values[key].map { evidence?.fingerprint($0) ?? "" } ?? "absent"),
        "new": .text(values[key].map { evidence?.fingerprint($0) ?? "" } ?? ""),
      ])
    }
    return StepResult(records: [
      TargetEvidence(
        target: policy.vault.staging,
        details: [
          "base_version": .number(live.version), "staging_version": .number(version),
          "rotated": .list(policy.rotate.map(\.key)), "derived": .list(policy.derive.map(\.key)),
          "fingerprints": .object(fingerprints),
        ])
    ])
  }

  func loadStaged(_ secret: VersionedSecret) {
    staged = secret.values.filter { !$0.key.hasPrefix(Self.reservedPrefix) }
    baseVersion =
      Int(secret.values[Self.reservedPrefix + "base_version"]?.unsafeUTF8String() ?? "") ?? 0
  }

  /// Steps after stage need the staged values; on resume they come from Vault.
  func requireStaged() async throws {
    if !staged.isEmpty { return }
    guard let lock, let secret = try await store.read(policy.vault.staging),
      secret.values[Self.reservedPrefix + "rotation_id"]?.unsafeUTF8String() == lock.rotationID
    else {
      throw RotationError.stepFailed(
        step: "stage", reason: "the staged values at \(policy.vault.staging) are missing")
    }
    loadStaged(secret)
  }
}
