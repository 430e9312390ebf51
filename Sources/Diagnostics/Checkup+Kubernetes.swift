import Foundation
import Kubernetes
import LockstepCore

extension Checkup {
  /// The kubeconfig kubectl would read: `$KUBECONFIG` (any of its files) or `~/.kube/config`.
  func kubeconfig() -> String? {
    if let list = value("KUBECONFIG") {
      let files = list.split(separator: ":").map(String.init)
      return files.contains { FileManager.default.fileExists(atPath: $0) } ? list : nil
    }
    guard let home = value("HOME") else { return nil }
    let path = home + "/.kube/config"
    return FileManager.default.fileExists(atPath: path) ? path : nil
  }

  func kubernetesPlan() -> SystemPlan {
    let system = "Kubernetes"
    let requirements = policy?.requirements(of: system) ?? []
    let targetChecks = policy?.targetChecks[system]
    let path = value("PATH") ?? "/usr/bin:/bin"
    guard let executable = ChildProcess.which("kubectl", path: path) else {
      guard requirements.isEmpty else {
        return .done([
          .failed(
            system, "kubectl", "not on PATH",
            problem:
              "kubectl is not on PATH, and the policy restarts Kubernetes deployments: install kubectl."
          )
        ])
      }
      return .done([.skipped(system, "kubectl", "not configured (kubectl is not on PATH)")])
    }
    let kubeconfig = kubeconfig()
    guard kubeconfig != nil || !requirements.isEmpty else {
      return .done([
        .skipped(
          system, "kubectl", "not configured (no kubeconfig: KUBECONFIG or ~/.kube/config)")
      ])
    }
    var configuration = KubectlClient.Configuration(
      executable: executable,
      environment: KubectlClient.Configuration.inheriting(environment),
      commandTimeout: clientTimeout)
    configuration.environment["PATH"] = path
    let base = configuration
    return .run(CheckLog(system: system), subject: "kubectl (\(executable))") { log in
      log.pass("kubectl", executable)
      guard await Self.kubernetesBasics(KubectlClient(base), log) else { return }
      await Self.kubernetesPolicy(base, requirements, targetChecks, log)
    }
  }

  /// The context and the API check are two kubectl runs, and each run of the dispatcher
  /// (`/usr/bin/kubectl` asks the server's `/version` before re-executing `kubectl.1.N`)
  /// costs seconds on a cold or loaded machine: they run side by side and are reported in
  /// order, so the pair costs one run's time against the deadline, not two.
  static func kubernetesBasics(_ client: KubectlClient, _ log: CheckLog) async -> Bool {
    log.begin("kubectl context")
    async let context = outcome { try await client.currentContext() }
    async let version = outcome { try await client.version() }
    switch await context {
    case .success(let name):
      log.pass("kubectl context", name)
    case .failure(let error):
      log.fail("kubectl context", clause(error), problem: kubernetesSentence(error))
      return false
    }
    log.begin("Kubernetes API")
    switch await version {
    case .success(let version):
      log.pass(
        "Kubernetes API", "answers: server \(version.server ?? "unknown"), client \(version.client)"
      )
      return true
    case .failure(let error):
      log.fail("Kubernetes API", clause(error), problem: kubernetesSentence(error))
      return false
    }
  }

  static func outcome<T: Sendable>(
    _ body: @Sendable () async throws -> T
  ) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
  }

  /// For each namespace (and context) of the policy: the rights a deploy step uses
  /// (its `kubectlCanI` requirements), and the targets' own checks (each deployment exists
  /// and reads its Secret). Everything runs concurrently: each check is a kubectl run.
  static func kubernetesPolicy(
    _ base: KubectlClient.Configuration, _ requirements: [PreflightRequirement],
    _ targetChecks: (@Sendable () async -> [PreflightCheck])?, _ log: CheckLog
  ) async {
    struct Scope: Hashable, Sendable {
      let context: String?
      let namespace: String
      var label: String { context.map { "\($0)/\(namespace)" } ?? namespace }
    }
    var probes: [(scope: Scope, name: String, verb: String, resource: String)] = []
    for requirement in requirements {
      guard case .kubectlCanI(let verb, let resource, let namespace, let context) = requirement.need
      else { continue }
      probes.append(
        (Scope(context: context, namespace: namespace), requirement.name, verb, resource))
    }
    func client(_ scope: Scope) -> KubectlClient {
      var configuration = base
      configuration.namespace = scope.namespace
      configuration.context = scope.context
      return KubectlClient(configuration)
    }
    // Contexts other than the current one must exist before anything else is asked there.
    var missing = Set<String>()
    var seen = Set<String>()
    for probe in probes {
      guard let context = probe.scope.context, seen.insert(context).inserted else { continue }
      let name = "kubectl context \(context)"
      log.begin(name)
      do {
        _ = try await client(probe.scope).currentContext()
        log.pass(name, "exists")
      } catch {
        log.fail(name, clause(error), problem: kubernetesSentence(error))
        missing.insert(context)
      }
    }
    let usable = probes.filter { $0.scope.context.map { !missing.contains($0) } ?? true }
    async let own = targetChecks?() ?? []
    let results = await withTaskGroup(of: (Int, CheckResult).self) { group in
      for (index, probe) in usable.enumerated() {
        let kubectl = client(probe.scope)
        group.addTask {
          do {
            if try await kubectl.canI(probe.verb, probe.resource) {
              return (index, .passed("Kubernetes", probe.name, "yes"))
            }
            return (
              index,
              .failed(
                "Kubernetes", probe.name, "no",
                problem:
                  "kubectl may not \(probe.verb) \(probe.resource) in namespace \(probe.scope.label), which the rotation's deploy step needs."
              )
            )
          } catch {
            return (
              index,
              .failed("Kubernetes", probe.name, clause(error), problem: kubernetesSentence(error))
            )
          }
        }
      }
      var byIndex: [Int: CheckResult] = [:]
      for await (index, result) in group { byIndex[index] = result }
      return usable.indices.compactMap { byIndex[$0] }
    }
    for result in results { log.record(result) }
    for check in await own { log.record(result(check)) }
  }

  /// KubernetesError's sentences start in lower case and name kubectl or Kubernetes.
  static func kubernetesSentence(_ error: any Error) -> String {
    var text = sentence(error)
    if let first = text.first, first.isLowercase {
      text = first.uppercased() + text.dropFirst()
    }
    return text
  }
}
