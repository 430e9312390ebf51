import Crypto
import Evidence
import Foundation
import Kubernetes
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

extension Rotator {
  /// Runs a new rotation (`resume: false`) or finishes the one the lock names.
  public func run(resume: Bool) throws -> Summary {
    try preflight(resuming: resume)
    defer { keeper?.stopHeartbeat() }
    var times: [(String, Duration)] = []
    for step in Step.allCases {
      let done = lock?.steps.contains(step.rawValue) ?? false
      if done {
        report(step.rawValue, .skipped, "already done")
        continue
      }
      try stopIfInterrupted(before: step.rawValue)
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
        if case .interrupted = error { throw error }
        recordFailure(step, error.description)
        throw error
      } catch let error as any LockstepError {
        recordFailure(step, error.description)
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

  /// Every reference of the policy proven and every right held before any side effect: a
  /// half-rotated system because step 5 lacked a permission, or a Secret no pod reads, is
  /// what this prevents. The checks are `RotationPreflight`'s, the same doctor shows.
  func preflight(resuming: Bool) throws {
    let checks = RotationPreflight(
      policy: policy, store: store, database: database, deployments: deployments,
      sessions: sessions
    ).run(resuming: resuming)
    if let own = checks.first(where: \.ownCredential) {
      throw RotationError.ownCredential(own.detail)
    }
    var problems = checks.compactMap(\.problem)
    if !resuming, let sentence = try unaccountedKeys() { problems.append(sentence) }
    problems += try followUpRights()
    if !problems.isEmpty { throw RotationError.preflight(problems.joined(separator: "; ")) }
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

  func loadStaged(_ secret: VersionedSecret) {
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
    try applyHooks()
    guard let database else { return }
    for target in policy.postgres {
      guard let password = staged[target.passwordKey] else { continue }
      let role = rotatedRole(target)
      currentTarget = "postgres role \(role)"
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
      currentTarget = "postgres role \(role)"
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
      rotationID: lock?.rotationID ?? "", evidencePath: evidence?.path ?? "", liveVersion: version,
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
      try stopIfInterrupted(before: marker)
      currentTarget = "deployment \(target.namespace)/\(target.deployment)"
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
      let restarted = try deployments.restart(
        namespace: target.namespace, deployment: target.deployment, context: target.context)
      let step = "deploy"
      let progress = self.progress
      try deployments.waitForRollout(
        namespace: target.namespace, deployment: target.deployment, timeout: target.rolloutTimeout,
        context: target.context,
        progress: { line in
          progress(Progress(step: step, state: .info, message: line, elapsed: nil))
        })
      try requireReads(target, restarted, deployments)
      try evidence?.record(
        step: "deploy", target: "deployment \(target.namespace)/\(target.deployment)",
        outcome: "ok",
        details: ["mode": target.mode.rawValue, "keys": target.keys, "rollout": "complete"])
      try markDone(marker)
    }
  }

  /// After the rollout: the restarted template (the object `rollout restart` printed, the
  /// one the rollout rolled out; read again only when kubectl printed none) reads what was
  /// written (the Secret holding every key, or the env variables), else the pods run
  /// without the new values and the run must not report success.
  func requireReads(
    _ target: RotationPolicy.KubernetesTarget, _ restarted: TemplateReferences?,
    _ deployments: any DeploymentTarget
  ) throws {
    let label = "deployment \(target.namespace)/\(target.deployment)"
    guard
      let references = try restarted
        ?? deployments.templateReferences(
          namespace: target.namespace, deployment: target.deployment, context: target.context)
    else { throw RotationError.verification("\(label) disappeared during the rollout") }
    guard references.annotations["kubectl.kubernetes.io/restartedAt"] != nil else {
      throw RotationError.verification("\(label) was not restarted")
    }
    switch target.mode {
    case .secret:
      let secret = target.secretName ?? target.deployment
      guard references.secrets.contains(secret) else {
        throw RotationError.verification(
          "\(label) restarted, but its pods do not read Secret \(secret): they run without the new values"
        )
      }
    case .env:
      let containers = target.container.map { [$0] } ?? references.containers
      let setting = containers.filter { container in
        target.keys.allSatisfy { (references.literalEnv[container] ?? []).contains($0) }
      }
      guard target.container == nil ? !setting.isEmpty : setting.count == 1 else {
        throw RotationError.verification(
          "\(label) restarted, but no container of it sets every rotated key")
      }
    }
  }

  // MARK: invalidate and finish

  func invalidate() throws {
    for target in policy.redis {
      guard let sessions = sessions[target.urlVariable] else { continue }
      currentTarget = "redis sessions"
      if target.flushDatabase {
        try sessions.flush()
        try evidence?.record(
          step: "invalidate", target: "redis sessions", outcome: "ok",
          details: ["flushed": true, "url_env": target.urlVariable])
      } else if let pattern = target.pattern {
        let removed = try sessions.invalidate(pattern: pattern, batch: target.batch)
        summary?.sessionsRemoved += removed
        try evidence?.record(
          step: "invalidate", target: "redis sessions", outcome: "ok",
          details: ["pattern": pattern, "removed": removed, "url_env": target.urlVariable])
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
    try recordAccounting()
    try store.destroy(policy.vault.staging)
    try evidence?.record(
      step: "finish", target: policy.vault.staging, outcome: "ok", details: ["staging": "destroyed"]
    )
    try evidence?.seal()
    keeper?.stopHeartbeat()
    try store.destroy(policy.vault.lock)
    if summary == nil, let live = try store.read(policy.vault.secret) {
      summary = Summary(
        rotationID: lock?.rotationID ?? "", evidencePath: evidence?.path ?? "",
        liveVersion: live.version,
        stepTimes: [], sessionsRemoved: 0)
    }
    for key in Array(staged.keys) { staged[key] = nil }
  }

  // MARK: helpers

  /// Stops at a step boundary after a SIGINT/SIGTERM: everything done so far is recorded
  /// (lock, evidence, journal), so the rotation is resumable as it stands.
  func stopIfInterrupted(before step: String) throws {
    guard let signal = options.interrupt?.signal else { return }
    let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
    if lock != nil {
      _ = try? evidence?.record(
        step: "interrupted", target: "", outcome: "stopped",
        details: ["signal": name, "before": step])
      syncEvidence()
    }
    throw RotationError.interrupted(
      signal: name, before: step, resume: lock == nil ? nil : options.resumeCommand)
  }

  /// A failed step in the evidence, with the target it was working on, copied to the lock.
  func recordFailure(_ step: Step, _ reason: String) {
    _ = try? evidence?.record(
      step: step.rawValue, target: currentTarget ?? "", outcome: "failed",
      details: ["reason": reason])
    syncEvidence()
  }

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
