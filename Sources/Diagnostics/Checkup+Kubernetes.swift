import Foundation
import Kubernetes
import LockstepCore
import Rotation

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
    let targets = policy?.kubernetes ?? []
    let path = value("PATH") ?? "/usr/bin:/bin"
    guard let executable = ChildProcess.which("kubectl", path: path) else {
      guard targets.isEmpty else {
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
    guard kubeconfig != nil || !targets.isEmpty else {
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
      await Self.kubernetesPolicy(base, targets, log)
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

  /// For each target namespace (and context): the rights a deploy step uses, and that each
  /// deployment exists. The namespaces are checked concurrently: each check is a kubectl run.
  static func kubernetesPolicy(
    _ base: KubectlClient.Configuration, _ targets: [RotationPolicy.KubernetesTarget],
    _ log: CheckLog
  ) async {
    struct Scope: Hashable, Sendable {
      let context: String?
      let namespace: String
      var label: String { context.map { "\($0)/\(namespace)" } ?? namespace }
    }
    let scopes = targets.reduce(into: [Scope]()) { scopes, target in
      let scope = Scope(context: target.context, namespace: target.namespace)
      if !scopes.contains(scope) { scopes.append(scope) }
    }
    func client(_ scope: Scope) -> KubectlClient {
      var configuration = base
      configuration.namespace = scope.namespace
      configuration.context = scope.context
      return KubectlClient(configuration)
    }
    // Contexts other than the current one must exist before anything else is asked there.
    var usable: [Scope] = []
    for scope in scopes {
      guard let context = scope.context else {
        usable.append(scope)
        continue
      }
      let name = "kubectl context \(context)"
      log.begin(name)
      do {
        _ = try await client(scope).currentContext()
        log.pass(name, "exists")
        usable.append(scope)
      } catch {
        log.fail(name, clause(error), problem: kubernetesSentence(error))
      }
    }
    enum Probe: Sendable {
      case canI(verb: String, resource: String)
      case deployment(RotationPolicy.KubernetesTarget)
    }
    var probes: [(Scope, Probe)] = []
    for scope in usable {
      probes.append((scope, .canI(verb: "patch", resource: "deployments")))
      probes.append((scope, .canI(verb: "patch", resource: "secrets")))
      for target in targets
      where target.namespace == scope.namespace && target.context == scope.context {
        probes.append((scope, .deployment(target)))
      }
    }
    let results = await withTaskGroup(of: (Int, CheckResult).self) { group in
      for (index, (scope, probe)) in probes.enumerated() {
        let kubectl = client(scope)
        group.addTask {
          switch probe {
          case .canI(let verb, let resource):
            let name = "kubectl can-i \(verb) \(resource) (\(scope.label))"
            do {
              if try await kubectl.canI(verb, resource) {
                return (index, .passed("Kubernetes", name, "yes"))
              }
              return (
                index,
                .failed(
                  "Kubernetes", name, "no",
                  problem:
                    "kubectl may not \(verb) \(resource) in namespace \(scope.label), which the rotation's deploy step needs."
                )
              )
            } catch {
              return (
                index,
                .failed("Kubernetes", name, clause(error), problem: kubernetesSentence(error))
              )
            }
          case .deployment(let target):
            // The rotation preflight's own check: the deployment exists and reads the
            // Secret the rotation writes (kubectl blocks: a thread of its own).
            let deployments = KubectlDeployments(base: base)
            let check = try? await onDedicatedThread {
              RotationPreflight.referenceCheck(target, deployments)
            }
            return (
              index,
              check.map(result)
                ?? .failed(
                  "Kubernetes", "deployment \(target.deployment)", "not checked",
                  problem: "The deployment \(target.deployment) could not be checked.")
            )
          }
        }
      }
      var byIndex: [Int: CheckResult] = [:]
      for await (index, result) in group { byIndex[index] = result }
      return probes.indices.compactMap { byIndex[$0] }
    }
    for result in results { log.record(result) }
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
