import Foundation
import Kubernetes
import LockstepCore
import Synchronization
import TestSupport

/// Collects values from `@Sendable` callbacks (kubectl invocations, progress lines).
final class Collector<Element: Sendable>: Sendable {
  private let items = Mutex<[Element]>([])

  func append(_ item: Element) { items.withLock { $0.append(item) } }
  var all: [Element] { items.withLock { $0 } }
}

/// A namespace of the shared stand-in, with a client for it.
struct KubeFixture {
  let standIn: KubernetesStandIn
  let namespace: String
  let client: KubectlClient
  let invocations: Collector<KubectlInvocation>

  /// A fresh namespace; `minor` picks the server version the stand-in reports (and so the
  /// `kubectl.1.N` the dispatcher runs; nil: `LOCKSTEP_KUBECTL_MINOR` or the default).
  static func make(
    context: String? = nil, impersonate: String? = nil, kubeconfig: String? = nil,
    minor: Int? = nil, executable: String = "kubectl", commandTimeout: Duration = .seconds(30)
  ) async throws -> KubeFixture {
    let standIn = try await KubernetesStandIn.shared()
    let namespace = try standIn.newNamespace()
    let kubeconfig =
      try kubeconfig ?? standIn.kubeconfig(minor: minor ?? KubernetesStandIn.selectedMinor)
    let invocations = Collector<KubectlInvocation>()
    let configuration = KubectlClient.Configuration(
      executable: executable, kubeconfig: kubeconfig, context: context,
      namespace: namespace, impersonate: impersonate,
      environment: try KubernetesStandIn.kubectlEnvironment(), commandTimeout: commandTimeout,
      pollInterval: .milliseconds(100))
    let client = KubectlClient(configuration) { invocations.append($0) }
    return KubeFixture(
      standIn: standIn, namespace: namespace, client: client, invocations: invocations)
  }

  /// Deployment `name` with containers `api` (env A, B) and `worker`.
  func seedDeployment(
    _ name: String = "aura-api", annotations: [String: String] = [:],
    envFromSecrets: [String] = [], envFromConfigMaps: [String] = [],
    holdRollouts: Bool = false, paused: Bool = false
  ) throws {
    try standIn.createDeployment(
      namespace: namespace, name: name,
      containers: [
        .init(
          "api", image: "aura/api:1", env: [("A", "1"), ("B", "2")],
          envFromSecrets: envFromSecrets, envFromConfigMaps: envFromConfigMaps),
        .init("worker", image: "aura/worker:1", env: [("W", "w")]),
      ], annotations: annotations, holdRollouts: holdRollouts, paused: paused)
  }

  /// Waits for the simulated rollout of a freshly created deployment to settle (200 ms). The
  /// bound only stops a hung rollout: beside a CPU hog, 30 s once passed (run 18).
  func waitForRollout(_ name: String = "aura-api") async throws {
    try await client.rolloutStatus(name, timeout: .seconds(120))
  }
}
