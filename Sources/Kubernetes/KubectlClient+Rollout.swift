import LockstepCore

extension KubectlClient {
  /// `kubectl rollout restart`: new pods, so they read the rotated values.
  ///
  /// kubectl stamps the restart with a time in whole seconds and refuses a second restart
  /// within the same second. A resumed rotation can restart right after the interrupted
  /// run did; then this waits for the next second and restarts again, so the restart
  /// certainly comes after the Secret update that preceded it.
  ///
  /// Returns what the restarted pod template reads (kubectl prints the patched object with
  /// `-o json`), so the rotation can prove the new pods read what it wrote without a second
  /// kubectl run per deployment; nil if kubectl printed no such object.
  @discardableResult
  public func rolloutRestart(_ deployment: String) async throws(KubernetesError)
    -> TemplateReferences?
  {
    try await rolloutRestart(.deployment, deployment)
  }

  /// `kubectl rollout restart` of a Deployment, StatefulSet or DaemonSet (see above).
  @discardableResult
  public func rolloutRestart(_ kind: WorkloadKind, _ workload: String) async throws(KubernetesError)
    -> TemplateReferences?
  {
    let name = try kind.checked(workload)
    for attempt in 1...2 {
      do {
        let result = try await kubectl(
          ["rollout", "restart", "-o", "json", "--", "\(kind.resource)/\(name)"],
          action: "restart \(kind.label(workload))",
          target: (kind: kind.rawValue, name: workload))
        return TemplateReferences(deploymentJSON: result.stdout)
      } catch {
        guard attempt == 1, error.description.contains("within the past second") else {
          throw error
        }
        try? await Task.sleep(for: .milliseconds(1100))
      }
    }
    return nil
  }

  /// Waits until the rollout of `deployment` has finished, passing each new progress line
  /// (kubectl's own wording) to `progress` as it appears.
  ///
  /// kubectl's watching `rollout status` prints progress only at its end when its output is
  /// captured, so this asks `rollout status --watch=false` every `pollInterval` instead:
  /// the same completion rule (observedGeneration, updated and available replicas), live
  /// progress, and a timeout that is Lockstep's own.
  public func rolloutStatus(
    _ deployment: String, timeout: Duration,
    progress: @escaping @Sendable (String) -> Void = { _ in }
  ) async throws(KubernetesError) {
    try await rolloutStatus(.deployment, deployment, timeout: timeout, progress: progress)
  }

  /// Waits for the rollout of a Deployment, StatefulSet or DaemonSet (see above); each
  /// kind's completion line is kubectl's own (`WorkloadKind.rolloutFinished`).
  public func rolloutStatus(
    _ kind: WorkloadKind, _ deployment: String, timeout: Duration,
    progress: @escaping @Sendable (String) -> Void = { _ in }
  ) async throws(KubernetesError) {
    let name = try kind.checked(deployment)
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var last: String?
    while true {
      let result: ChildProcess.Result
      do {
        result = try await kubectl(
          ["rollout", "status", "--watch=false", "--", "\(kind.resource)/\(name)"],
          action: "read the rollout status of \(kind.label(deployment))",
          target: (kind: kind.rawValue, name: deployment),
          timeout: min(configuration.commandTimeout, max(deadline - clock.now, .seconds(5))))
      } catch {
        // A status read cut short by the rollout's own deadline is that deadline passing.
        guard case .commandTimedOut = error, clock.now >= deadline else { throw error }
        throw .rolloutTimedOut(
          deployment: deployment, seconds: Int(timeout.components.seconds), kind: kind.rawValue)
      }
      let line = result.stdoutText.split(separator: "\n").last.map(String.init) ?? ""
      if !line.isEmpty && line != last {
        progress(line)
        last = line
      }
      if kind.rolloutFinished(line) { return }
      if clock.now >= deadline || Task.isCancelled {
        throw .rolloutTimedOut(
          deployment: deployment, seconds: Int(timeout.components.seconds), kind: kind.rawValue)
      }
      let pause = min(configuration.pollInterval, deadline - clock.now)
      if pause > .zero { try? await Task.sleep(for: pause) }
    }
  }
}
