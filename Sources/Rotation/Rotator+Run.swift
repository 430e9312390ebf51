import Crypto
import Evidence
import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// The loop: each step in order, skipped when the lock says it is done, its evidence
/// written and its completion recorded before the next starts.
extension Rotator {
  /// Runs a new rotation (`resume: false`) or finishes the one the lock names.
  public func run(resume: Bool) async throws -> Summary {
    try await preflight(resuming: resume)
    defer { keeper?.stopHeartbeat() }
    var times: [(String, Duration)] = []
    for step in Step.allCases {
      let done = lock?.steps.contains(step.rawValue) ?? false
      if done {
        report(step.rawValue, .skipped, "already done")
        continue
      }
      try await stopIfInterrupted(before: step.rawValue)
      let start = clock.now
      report(step.rawValue, .started, "")
      injectFault(step, "before")
      memo = StepContext.Memo()
      currentTarget = nil
      do {
        let result = try await perform(step, resume: resume)
        for record in result.records { try self.record(step, record) }
        if let note = result.note { report(step.rawValue, .info, note) }
      } catch let error as RotationError {
        if case .interrupted = error { throw error }
        await recordFailure(step, error.description)
        throw error
      } catch let error as any LockstepError {
        await recordFailure(step, error.description)
        throw RotationError.stepFailed(step: step.rawValue, reason: error.description)
      } catch {
        throw RotationError.stepFailed(step: step.rawValue, reason: "\(error)")
      }
      injectFault(step, "after")
      if step != .finish { try await markDone(step.rawValue) }
      let elapsed = clock.now - start
      times.append((step.rawValue, elapsed))
      report(step.rawValue, .done, "", elapsed)
    }
    guard var summary else { throw RotationError.stepFailed(step: "finish", reason: "no summary") }
    summary.stepTimes = times
    return summary
  }

  func perform(_ step: Step, resume: Bool) async throws -> StepResult {
    switch step {
    case .lock: try await takeLock(resume: resume)
    case .stage: try await stage()
    case .apply: try await apply()
    case .verify: try await verify()
    case .promote: try await promote()
    case .deploy: try await deploy()
    case .invalidate: try await invalidate()
    case .finish: try await finish()
    }
  }

  /// What a target is given in a step: the staged values, the live secret when the step
  /// read it, the clients, the fingerprint and the progress line.
  func context(live: VersionedSecret?, step: Step) -> StepContext {
    var fingerprint: @Sendable (SecretBytes) -> String = { _ in "" }
    if let evidence { fingerprint = evidence.fingerprinter }
    let progress = self.progress
    var context = StepContext(
      policy: policy, services: services, staged: staged, live: live,
      fingerprint: fingerprint,
      progress: { line in
        progress(Progress(step: step.rawValue, state: .info, message: line, elapsed: nil))
      }, memo: memo)
    context.rotationID = lock?.rotationID ?? ""
    context.attempt = 1 + resumptions
    return context
  }

  /// Runs one part of every target in policy order, naming the target for a failure.
  func eachTarget(
    _ body: (any RotationTarget) async throws -> [TargetEvidence]
  ) async throws -> [TargetEvidence] {
    var records: [TargetEvidence] = []
    for target in policy.targets {
      currentTarget = target.label
      records += try await body(target)
    }
    currentTarget = nil
    return records
  }

  // MARK: helpers

  /// One evidence record, typed all the way to the log.
  func record(_ step: Step, _ record: TargetEvidence) throws {
    try self.record(step.rawValue, record)
  }

  func record(_ step: String, _ record: TargetEvidence) throws {
    try evidence?.record(
      step: record.step ?? step, target: record.target, outcome: record.outcome,
      details: record.details.mapValues(\.json))
  }

  /// Stops at a step boundary after a SIGINT/SIGTERM: everything done so far is recorded
  /// (lock, evidence, journal), so the rotation is resumable as it stands.
  func stopIfInterrupted(before step: String) async throws {
    guard let signal = options.interrupt?.signal else { return }
    let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
    if lock != nil {
      _ = try? record(
        "interrupted",
        TargetEvidence(
          target: "", outcome: "stopped", details: ["signal": .text(name), "before": .text(step)])
      )
      await syncEvidence()
    }
    throw RotationError.interrupted(
      signal: name, before: step, resume: lock == nil ? nil : options.resumeCommand)
  }

  /// A failed step in the evidence, with the target it was working on, copied to the lock.
  func recordFailure(_ step: Step, _ reason: String) async {
    _ = try? record(
      step,
      TargetEvidence(
        target: currentTarget ?? "", outcome: "failed", details: ["reason": .text(reason)]))
    await syncEvidence()
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
