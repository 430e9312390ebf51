import Synchronization

/// The results of one system's checks as they complete, readable at any moment.
///
/// A system's checks run in order (no token check on an unreachable Vault), and a server
/// that hangs must not hold up the report: when the deadline passes, `Checkup` takes what
/// is here and reports the check still in flight as failed.
final class CheckLog: Sendable {
  let system: String
  private let state = Mutex<(results: [CheckResult], running: String?)>(([], nil))

  init(system: String) {
    self.system = system
  }

  /// Names the check about to run, so a time-out can say which one hung.
  func begin(_ name: String) {
    state.withLock { $0.running = name }
  }

  func record(_ result: CheckResult) {
    state.withLock {
      $0.results.append(result)
      $0.running = nil
    }
  }

  func pass(_ name: String, _ detail: String) {
    record(.passed(system, name, detail))
  }

  func fail(_ name: String, _ detail: String, problem: String) {
    record(.failed(system, name, detail, problem: problem))
  }

  func skip(_ name: String, _ detail: String) {
    record(.skipped(system, name, detail))
  }

  /// What has finished so far and, when the deadline cut the work short, one failed line
  /// for what did not finish: the check in flight, or, between two checks or before the
  /// first one started (a busy machine), the checks still to come. A cut-short system must
  /// never look like one whose checks all passed.
  func snapshot(interrupted: ((String) -> CheckResult)? = nil) -> [CheckResult] {
    state.withLock { state in
      guard let interrupted else { return state.results }
      if let running = state.running { return state.results + [interrupted(running)] }
      // Between two checks: a system that already failed says so once; one whose checks
      // so far passed must not look finished.
      if state.results.contains(where: { $0.status == .failed }) { return state.results }
      let name = state.results.isEmpty ? "\(system) checks" : "remaining \(system) checks"
      return state.results + [interrupted(name)]
    }
  }
}
