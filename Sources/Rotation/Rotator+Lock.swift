import Evidence
import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// Step 1, the lock: taken with `cas=0`, or adopted by `resume` after its record has been
/// validated and what it claims has been checked against Vault and PostgreSQL. The record
/// read back is untrusted: it never chooses a local path, and a claim that does not hold is
/// redone rather than believed.
extension Rotator {
  func takeLock(resume: Bool) async throws -> StepResult {
    let now = Date()
    let ttl = policy.vault.lockTTL
    if let existing = try await store.read(policy.vault.lock) {
      let record = try Self.validatedLock(existing, path: policy.vault.lock)
      let expired = record.expiresAt < now
      guard resume else {
        throw expired
          ? RotationError.locked(path: policy.vault.lock, holder: record.holder, expired: true)
          : RotationError.unfinished(lock: policy.vault.lock, holder: record.holder)
      }
      let sameHost = record.host == ProcessInfo.processInfo.hostName
      let ownerAlive =
        sameHost && record.pid > 0 && kill(record.pid, 0) == 0 && record.pid != getpid()
      if ownerAlive || (!sameHost && !expired && !options.forceUnlock) {
        throw RotationError.locked(path: policy.vault.lock, holder: record.holder, expired: false)
      }
      if !record.signer.isEmpty, !options.signer.isEmpty, record.signer != options.signer {
        throw RotationError.wrongSigningKey(expected: record.signer)
      }
      let (steps, unconfirmed) = try await confirmedSteps(record)
      var taken = record
      taken.pid = getpid()
      taken.host = ProcessInfo.processInfo.hostName
      taken.expiresAt = now.addingTimeInterval(ttl.inSeconds)
      taken.steps = steps
      if taken.signer.isEmpty { taken.signer = options.signer }
      taken.signingKeyFile = options.signingKeyFile
      let adopted = taken
      let keeper = LockKeeper(
        store: store, path: policy.vault.lock, record: record, version: existing.version, ttl: ttl)
      try await keeper.update { $0 = adopted }
      self.keeper = keeper
      try openEvidence(adopted, resumed: true)
      var details: [String: EvidenceValue] = [
        "rotation_id": .text(adopted.rotationID), "previous_holder": .text(record.holder),
        "done": .list(steps),
      ]
      if !unconfirmed.isEmpty {
        details["claims_not_confirmed"] = .list(unconfirmed)
        report("lock", .info, "redoing \(unconfirmed.joined(separator: ", ")): not confirmed")
      }
      if !record.policyDigest.isEmpty, record.policyDigest != options.policyDigest {
        details["policy_changed"] = true
        details["previous_policy_sha256"] = .text(record.policyDigest)
        report("lock", .info, "the policy changed since the rotation started; recorded")
      }
      keeper.startHeartbeat()
      return StepResult(records: [
        TargetEvidence(target: policy.vault.lock, outcome: "resumed", details: details)
      ])
    }
    guard !resume else { throw RotationError.nothingToResume(lock: policy.vault.lock) }
    let actor = EvidenceLog.currentActor()
    let id = UUID().uuidString.lowercased()
    var record = LockRecord(
      rotationID: id, owner: actor["user"] ?? "unknown", host: actor["host"] ?? "unknown",
      pid: getpid(), startedAt: now, expiresAt: now.addingTimeInterval(ttl.inSeconds),
      steps: [], policyDigest: options.policyDigest, signer: options.signer)
    record.signingKeyFile = options.signingKeyFile
    let version: Int
    do {
      version = try await store.write(policy.vault.lock, record.values, cas: 0)
    } catch is StoreConflict {
      let holder = (try? await store.read(policy.vault.lock)).flatMap {
        $0.flatMap { try? LockRecord.parse(values: $0.values) }
      }
      throw RotationError.locked(
        path: policy.vault.lock, holder: holder?.holder ?? "unknown", expired: false)
    }
    let keeper = LockKeeper(
      store: store, path: policy.vault.lock, record: record, version: version, ttl: ttl)
    self.keeper = keeper
    try openEvidence(record, resumed: false)
    keeper.startHeartbeat()
    return StepResult(records: [
      TargetEvidence(
        target: policy.vault.lock,
        details: [
          "rotation_id": .text(id), "policy": .text(policy.name),
          "expires_at": .text(LockRecord.format(record.expiresAt)),
        ])
    ])
  }

  /// The record, validated field by field; a planted or damaged one stops here.
  static func validatedLock(_ secret: VersionedSecret, path: String) throws -> LockRecord {
    do { return try LockRecord.parse(values: secret.values) } catch {
      throw RotationError.untrustedLock(path: path, reason: error.description)
    }
  }

  /// The claimed steps that hold, and those that do not (which are then redone): stage
  /// needs this rotation's staging copy; verify needs the staged password to log in;
  /// promote needs the live secret to hold the staged values.
  func confirmedSteps(_ record: LockRecord) async throws
    -> (steps: [String], unconfirmed: [String])
  {
    var steps = record.steps
    var unconfirmed: [String] = []
    func cut(before step: Step) {
      guard let index = steps.firstIndex(of: step.rawValue) else { return }
      unconfirmed += steps[index...].filter { !$0.contains(":") }
      steps.removeSubrange(index...)
    }
    let staging = try await store.read(policy.vault.staging)
    let stagedHere =
      staging?.values[Self.reservedPrefix + "rotation_id"]?.unsafeUTF8String()
      == record.rotationID
    if steps.contains(Step.stage.rawValue) && !stagedHere {
      guard !steps.contains(Step.apply.rawValue) else {
        throw RotationError.untrustedLock(
          path: policy.vault.lock,
          reason:
            "it says PostgreSQL has the new password, but \(policy.vault.staging) holds no values of rotation \(record.rotationID)"
        )
      }
      cut(before: .stage)
    }
    guard stagedHere, let staging else { return (steps, unconfirmed) }
    loadStaged(staging)
    if steps.contains(Step.promote.rawValue) {
      let live = try await store.read(policy.vault.secret)
      if !policy.changedKeys.allSatisfy({ live?.values[$0] == staged[$0] }) {
        cut(before: .promote)
      }
    }
    if steps.contains(Step.verify.rawValue) && !steps.contains(Step.promote.rawValue) {
      let context = context(live: nil, step: .lock)
      for target in policy.targets {
        if !(await target.stillVerified(context)) { cut(before: .apply) }
      }
    }
    return (steps, unconfirmed)
  }

  /// Opens `--evidence-dir/<id>.jsonl` (the id is a validated UUID). On resume, the chain
  /// recorded in the lock is the trail of record: a missing local file is written from it,
  /// a local file must continue it.
  func openEvidence(_ record: LockRecord, resumed: Bool) throws {
    let path = "\(options.evidenceDirectory)/\(record.rotationID).jsonl"
    if resumed && !record.evidenceChain.isEmpty {
      try EvidenceLog.continueChain(at: path, from: Data(record.evidenceChain.utf8))
    }
    evidence = try EvidenceLog(
      path: path, signingKey: signingKey, policyDigest: options.policyDigest)
  }

  /// Adds a completed step to the lock record, with the evidence written so far.
  func markDone(_ step: String) async throws {
    guard let keeper else { return }
    let chain = evidence?.contents() ?? ""
    try await keeper.update { record in
      if !record.steps.contains(step) { record.steps.append(step) }
      record.evidenceChain = chain
    }
    try appendJournal(step)
  }

  /// Copies the evidence written so far into the lock (after a failure, best effort).
  func syncEvidence() async {
    guard let keeper, let chain = evidence?.contents() else { return }
    try? await keeper.update { $0.evidenceChain = chain }
  }

  /// The local journal: one JSON line per completed step, no values.
  private func appendJournal(_ step: String) throws {
    guard let lock else { return }
    try FileManager.default.createDirectory(
      atPath: options.stateDirectory, withIntermediateDirectories: true,
      attributes: [.posixPermissions: 0o700])
    let path = "\(options.stateDirectory)/\(lock.rotationID).journal.jsonl"
    if !FileManager.default.fileExists(atPath: path) {
      _ = FileManager.default.createFile(
        atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
    }
    let line: [String: Any] = [
      "time": LockRecord.format(Date()), "rotation_id": lock.rotationID, "step": step,
      "event": "done", "policy": policy.name,
    ]
    var data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
    data.append(0x0A)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: data)
    try handle.synchronize()
  }
}
