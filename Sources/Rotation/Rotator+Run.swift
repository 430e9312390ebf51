import Crypto
import Evidence
import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

extension Rotator {
  /// Runs a new rotation (`resume: false`) or finishes the one the lock names.
  public func run(resume: Bool) throws -> Summary {
    try preflight()
    var times: [(String, Duration)] = []
    for step in Step.allCases {
      let done = lock?.steps.contains(step.rawValue) ?? false
      if done {
        report(step.rawValue, .skipped, "already done")
        continue
      }
      let start = clock.now
      report(step.rawValue, .started, "")
      injectFault(step, "before")
      do {
        switch step {
        case .lock: try takeLock(resume: resume)
        case .stage: try stage()
        case .apply: try apply()
        case .verify: try verify()
        case .promote: try promote()
        case .deploy: try deploy()
        case .invalidate: try invalidate()
        case .finish: try finish()
        }
      } catch let error as RotationError {
        _ = try? evidence?.record(
          step: step.rawValue, target: "", outcome: "failed", details: ["reason": error.description]
        )
        throw error
      } catch let error as any LockstepError {
        _ = try? evidence?.record(
          step: step.rawValue, target: "", outcome: "failed", details: ["reason": error.description]
        )
        throw RotationError.stepFailed(step: step.rawValue, reason: error.description)
      } catch {
        throw RotationError.stepFailed(step: step.rawValue, reason: "\(error)")
      }
      injectFault(step, "after")
      if step != .finish { try markDone(step.rawValue) }
      let elapsed = clock.now - start
      times.append((step.rawValue, elapsed))
      report(step.rawValue, .done, "", elapsed)
    }
    guard var summary else { throw RotationError.stepFailed(step: "finish", reason: "no summary") }
    summary.stepTimes = times
    return summary
  }

  // MARK: preflight

  /// Every target reachable and holding the rights the rotation needs, before any side
  /// effect: a half-rotated system because step 5 lacked a permission is what this prevents.
  func preflight() throws {
    var problems: [String] = []
    // Read once: the alternating checks and the Vault checks below both need it.
    let live = Result { try store.read(policy.vault.secret) }
    if let database {
      do {
        let user = try database.currentUser()
        if policy.postgres.contains(where: { $0.role == user || $0.alternateRole == user }) {
          throw RotationError.ownCredential("PostgreSQL role \(user)")
        }
        if try !database.canManageRoles() {
          problems.append("PostgreSQL login \(user) is neither superuser nor CREATEROLE")
        }
        if policy.strategy == .alternating {
          problems += try alternatingProblems(database, live: (try? live.get()) ?? nil)
        }
      } catch let error as RotationError {
        throw error
      } catch {
        problems.append("PostgreSQL: \(error)")
      }
    } else if !policy.postgres.isEmpty {
      problems.append(
        "the policy has PostgreSQL targets but no PostgreSQL connection is configured")
    }
    if let deployments {
      for namespace in Set(policy.kubernetes.map { "\($0.context ?? "")|\($0.namespace)" }) {
        let parts = namespace.split(separator: "|", omittingEmptySubsequences: false).map(
          String.init)
        do {
          if try !deployments.canDeploy(
            namespace: parts[1], context: parts[0].isEmpty ? nil : parts[0])
          {
            problems.append(
              "kubectl may not patch deployments and secrets in namespace \(parts[1])")
          }
        } catch {
          problems.append("Kubernetes: \(error)")
        }
      }
    } else if !policy.kubernetes.isEmpty {
      problems.append("the policy has Kubernetes targets but kubectl is not available")
    }
    for target in policy.redis {
      guard let store = sessions[target.urlVariable] else {
        problems.append("Redis: $\(target.urlVariable) is not set")
        continue
      }
      do { try store.check() } catch { problems.append("Redis: \(error)") }
    }
    do {
      guard try live.get() != nil || lockHeld() else {
        throw RotationError.liveSecretMissing(path: policy.vault.secret)
      }
      problems += try store.missingRights(
        secret: policy.vault.secret, staging: policy.vault.staging, lock: policy.vault.lock)
    } catch let error as RotationError {
      throw error
    } catch {
      problems.append("Vault: \(error)")
    }
    if !problems.isEmpty { throw RotationError.preflight(problems.joined(separator: "; ")) }
  }

  private func lockHeld() throws -> Bool { try store.read(policy.vault.lock) != nil }

  // MARK: lock

  func takeLock(resume: Bool) throws {
    let now = Date()
    if let existing = try store.read(policy.vault.lock) {
      guard let record = LockRecord(values: existing.values) else {
        throw RotationError.preflight(
          "the lock \(policy.vault.lock) holds something that is not a Lockstep lock")
      }
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
      var adopted = record
      adopted.pid = getpid()
      adopted.host = ProcessInfo.processInfo.hostName
      adopted.expiresAt = now.addingTimeInterval(policy.vault.lockTTL.inSeconds)
      lockVersion = try write(policy.vault.lock, adopted.values, cas: existing.version)
      lock = adopted
      try openEvidence(adopted)
      try evidence?.record(
        step: "lock", target: policy.vault.lock, outcome: "resumed",
        details: [
          "rotation_id": adopted.rotationID, "previous_holder": record.holder, "done": record.steps,
        ])
      return
    }
    guard !resume else { throw RotationError.nothingToResume(lock: policy.vault.lock) }
    let actor = EvidenceLog.currentActor()
    let id = UUID().uuidString.lowercased()
    let record = LockRecord(
      rotationID: id, owner: actor["user"] ?? "unknown", host: actor["host"] ?? "unknown",
      pid: getpid(), startedAt: now,
      expiresAt: now.addingTimeInterval(policy.vault.lockTTL.inSeconds),
      evidence: "\(options.evidenceDirectory)/\(id).jsonl", steps: [])
    do {
      lockVersion = try store.write(policy.vault.lock, record.values, cas: 0)
    } catch is StoreConflict {
      let holder = (try? store.read(policy.vault.lock)).flatMap {
        $0.flatMap { LockRecord(values: $0.values) }
      }
      throw RotationError.locked(
        path: policy.vault.lock, holder: holder?.holder ?? "unknown", expired: false)
    }
    lock = record
    try openEvidence(record)
    try evidence?.record(
      step: "lock", target: policy.vault.lock, outcome: "ok",
      details: [
        "rotation_id": id, "policy": policy.name, "expires_at": LockRecord.format(record.expiresAt),
      ])
  }

  private func openEvidence(_ record: LockRecord) throws {
    evidence = try EvidenceLog(path: record.evidence, signingKey: signingKey)
  }

  /// Adds a completed step to the lock record (CAS on the lock's own version).
  func markDone(_ step: String) throws {
    guard var record = lock else { return }
    if !record.steps.contains(step) { record.steps.append(step) }
    lockVersion = try write(policy.vault.lock, record.values, cas: lockVersion)
    lock = record
    try appendJournal(step)
  }

  private func write(_ path: String, _ values: [String: SecretBytes], cas: Int) throws -> Int {
    do { return try store.write(path, values, cas: cas) } catch is StoreConflict {
      throw RotationError.stepFailed(
        step: "lock", reason: "the lock \(path) was changed by someone else")
    }
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

  // MARK: stage

  func stage() throws {
    guard let lock else { return }
    if let existing = try store.read(policy.vault.staging),
      existing.values[Self.reservedPrefix + "rotation_id"]?.unsafeUTF8String() == lock.rotationID
    {
      loadStaged(existing)
      report(
        "stage", .info, "reusing the values staged at \(policy.vault.staging) v\(existing.version)")
      return
    }
    guard let live = try store.read(policy.vault.secret) else {
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
    for target in policy.postgres where policy.strategy == .alternating {
      guard let key = target.userKey, let inUse = Self.roleInUse(target, live: live) else {
        throw RotationError.stepFailed(
          step: "stage", reason: "the live secret does not name a role of the pair")
      }
      values[key] = SecretBytes(utf8: Self.partner(of: inUse, in: target))
    }
    for derived in policy.derive {
      values[derived.key] = try derived.template.render(
        values: { values[$0] ?? live.values[$0] }, current: live.values[derived.key])
    }
    values[Self.reservedPrefix + "rotation_id"] = SecretBytes(utf8: lock.rotationID)
    values[Self.reservedPrefix + "base_version"] = SecretBytes(utf8: String(live.version))
    let previous = try store.read(policy.vault.staging)
    let version = try store.write(policy.vault.staging, values, cas: previous?.version ?? 0)
    loadStaged(VersionedSecret(version: version, values: values))
    var fingerprints: [String: Any] = [:]
    for key in policy.changedKeys {
      fingerprints[key] = [
        "old": live.values[key].map { evidence?.fingerprint($0) ?? "" } ?? "absent",
        "new": evidence?.fingerprint(values[key]!) ?? "",
      ]
    }
    try evidence?.record(
      step: "stage", target: policy.vault.staging, outcome: "ok",
      details: [
        "base_version": live.version, "staging_version": version,
        "rotated": policy.rotate.map(\.key), "derived": policy.derive.map(\.key),
        "fingerprints": fingerprints,
      ])
  }

  private func loadStaged(_ secret: VersionedSecret) {
    staged = secret.values.filter { !$0.key.hasPrefix(Self.reservedPrefix) }
    baseVersion =
      Int(secret.values[Self.reservedPrefix + "base_version"]?.unsafeUTF8String() ?? "") ?? 0
  }

  /// Steps after stage need the staged values; on resume they come from Vault.
  func requireStaged() throws {
    if !staged.isEmpty { return }
    guard let lock, let secret = try store.read(policy.vault.staging),
      secret.values[Self.reservedPrefix + "rotation_id"]?.unsafeUTF8String() == lock.rotationID
    else {
      throw RotationError.stepFailed(
        step: "stage", reason: "the staged values at \(policy.vault.staging) are missing")
    }
    loadStaged(secret)
  }

  // MARK: apply and verify

  func apply() throws {
    try requireStaged()
    guard let database else { return }
    for target in policy.postgres {
      guard let password = staged[target.passwordKey] else { continue }
      let role = rotatedRole(target)
      var details: [String: Any] = ["verifier": "SCRAM-SHA-256, computed client-side"]
      if policy.strategy == .alternating {
        details["strategy"] = "alternating"
        details["role_in_use"] = Self.partner(of: role, in: target)
        details["memberships_granted"] = try equalizeMemberships(
          database, role: role, target: target)
      }
      try database.setPassword(role: role, password: password)
      if target.terminateSessions {
        details["sessions_terminated"] = try database.terminateSessions(role: role)
      }
      try evidence?.record(
        step: "apply", target: "postgres role \(role)", outcome: "ok", details: details)
    }
  }

  func verify() throws {
    try requireStaged()
    guard let database else { return }
    for target in policy.postgres {
      guard let password = staged[target.passwordKey] else { continue }
      let role = rotatedRole(target)
      let new = database.verifyLogin(
        role: role, password: password, database: target.verifyDatabase)
      guard new == .accepted else {
        throw RotationError.verification(
          "the new password of PostgreSQL role \(role) was not accepted (\(new))")
      }
      if policy.strategy == .alternating {
        try verifyPair(database, target: target, role: role)
        continue
      }
      var oldOutcome = "no previous password"
      if let previous = try store.read(policy.vault.secret)?.values[target.passwordKey],
        previous != password
      {
        let old = database.verifyLogin(
          role: target.role, password: previous, database: target.verifyDatabase)
        guard old == .refused else {
          throw RotationError.verification(
            "the old password of PostgreSQL role \(target.role) still logs in")
        }
        oldOutcome = "refused"
      }
      try evidence?.record(
        step: "verify", target: "postgres role \(target.role)", outcome: "ok",
        details: ["new_password": "accepted", "old_password": oldOutcome])
    }
  }

  /// Alternating: the pair holds the same memberships, and the role in use still logs in
  /// (recorded, not required: the rotation is what moves the application off it).
  private func verifyPair(_ database: any DatabaseRoles, target: PostgresTarget, role: String)
    throws
  {
    try requireEqualMemberships(database, role: role, target: target)
    let partner = Self.partner(of: role, in: target)
    var previous = "not checked (already promoted)"
    if let live = try store.read(policy.vault.secret),
      Self.roleInUse(target, live: live) == partner,
      let password = live.values[target.passwordKey]
    {
      previous =
        database.verifyLogin(role: partner, password: password, database: target.verifyDatabase)
          == .accepted ? "accepted until the next rotation" : "refused"
    }
    try evidence?.record(
      step: "verify", target: "postgres role \(role)", outcome: "ok",
      details: [
        "new_password": "accepted", "memberships": "equal to \(partner)",
        "role_in_use": partner, "role_in_use_login": previous,
      ])
  }

  // MARK: promote

  func promote() throws {
    try requireStaged()
    guard let live = try store.read(policy.vault.secret) else {
      throw RotationError.liveSecretMissing(path: policy.vault.secret)
    }
    let alreadyPromoted = policy.changedKeys.allSatisfy { live.values[$0] == staged[$0] }
    if alreadyPromoted {
      report(
        "promote", .info, "\(policy.vault.secret) v\(live.version) already holds the new values")
      try recordPromotion(version: live.version, from: live)
      return
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
    for key in policy.changedKeys { values[key] = staged[key] }
    let jsonKeys = live.jsonKeys.subtracting(policy.changedKeys)
    let version: Int
    do {
      version = try store.write(policy.vault.secret, values, cas: live.version, jsonKeys: jsonKeys)
    } catch is StoreConflict {
      let found = (try? store.read(policy.vault.secret))??.version ?? -1
      throw RotationError.casConflict(
        path: policy.vault.secret, expected: live.version, found: found,
        staging: policy.vault.staging)
    }
    try recordPromotion(version: version, from: live)
  }

  private func recordPromotion(version: Int, from live: VersionedSecret) throws {
    let kept = live.values.keys.filter { !policy.changedKeys.contains($0) }.sorted()
    summary = Summary(
      rotationID: lock?.rotationID ?? "", evidencePath: lock?.evidence ?? "", liveVersion: version,
      stepTimes: [], sessionsRemoved: 0)
    try evidence?.record(
      step: "promote", target: policy.vault.secret, outcome: "ok",
      details: [
        "previous_version": baseVersion, "version": version, "changed": policy.changedKeys,
        "kept": kept,
      ])
  }

  // MARK: deploy

  func deploy() throws {
    try requireStaged()
    guard let deployments else { return }
    var updatedSecrets = Set<String>()
    for target in policy.kubernetes {
      let marker = "deploy:\(target.namespace)/\(target.deployment)"
      if lock?.steps.contains(marker) ?? false { continue }
      var values: [String: SecretBytes] = [:]
      for key in target.keys { values[key] = staged[key] }
      switch target.mode {
      case .secret:
        let name = target.secretName ?? target.deployment
        if updatedSecrets.insert("\(target.context ?? "")/\(target.namespace)/\(name)").inserted {
          try deployments.updateSecret(
            namespace: target.namespace, name: name, values: values, context: target.context)
        }
      case .env:
        try deployments.patchEnv(
          namespace: target.namespace, deployment: target.deployment, container: target.container,
          values: values, context: target.context)
      }
      try deployments.restart(
        namespace: target.namespace, deployment: target.deployment, context: target.context)
      let step = "deploy"
      let progress = self.progress
      try deployments.waitForRollout(
        namespace: target.namespace, deployment: target.deployment, timeout: target.rolloutTimeout,
        context: target.context,
        progress: { line in
          progress(Progress(step: step, state: .info, message: line, elapsed: nil))
        })
      try evidence?.record(
        step: "deploy", target: "deployment \(target.namespace)/\(target.deployment)",
        outcome: "ok",
        details: ["mode": target.mode.rawValue, "keys": target.keys, "rollout": "complete"])
      try markDone(marker)
    }
  }

  // MARK: invalidate and finish

  func invalidate() throws {
    for target in policy.redis {
      guard let sessions = sessions[target.urlVariable] else { continue }
      if target.flushDatabase {
        try sessions.flush()
        try evidence?.record(
          step: "invalidate", target: "redis $\(target.urlVariable)", outcome: "ok",
          details: ["flushed": true])
      } else if let pattern = target.pattern {
        let removed = try sessions.invalidate(pattern: pattern, batch: target.batch)
        summary?.sessionsRemoved += removed
        try evidence?.record(
          step: "invalidate", target: "redis $\(target.urlVariable)", outcome: "ok",
          details: ["pattern": pattern, "removed": removed])
      }
    }
  }

  func finish() throws {
    var scans: [String: Any] = [:]
    for scan in policy.logs {
      scans[scan.path] = LogScanner.count(pattern: scan.pattern, path: scan.path)
    }
    if !scans.isEmpty {
      try evidence?.record(
        step: "logs", target: "log files", outcome: "ok", details: ["matches": scans])
    }
    try store.destroy(policy.vault.staging)
    try evidence?.record(
      step: "finish", target: policy.vault.staging, outcome: "ok", details: ["staging": "destroyed"]
    )
    try evidence?.seal()
    try store.destroy(policy.vault.lock)
    if summary == nil, let live = try store.read(policy.vault.secret) {
      summary = Summary(
        rotationID: lock?.rotationID ?? "", evidencePath: lock?.evidence ?? "",
        liveVersion: live.version,
        stepTimes: [], sessionsRemoved: 0)
    }
    for key in Array(staged.keys) { staged[key] = nil }
  }

  // MARK: helpers

  func report(
    _ step: String, _ state: Progress.State, _ message: String, _ elapsed: Duration? = nil
  ) {
    progress(Progress(step: step, state: state, message: message, elapsed: elapsed))
  }

  /// Dies at the named point without cleanup, as a crash or `kill -9` would.
  func injectFault(_ step: Step, _ when: String) {
    guard let fault = options.fault, fault.step == step.rawValue, fault.when == when else { return }
    kill(getpid(), SIGKILL)
  }
}
