import Foundation
import Kubernetes
import LockstepCore
import TestSupport
import Testing

/// Lockstep reads kubectl's wording (errors, rollout progress), and that wording belongs to
/// one kubectl minor. The /usr/bin/kubectl dispatcher runs `kubectl.1.N` for a server of
/// version 1.N, so the stand-in reports each minor in turn (a kubeconfig per minor) and each
/// case below runs once per kubectl on this machine.
@Suite("Every kubectl minor here reads the same to Lockstep")
struct KubectlMinorTests {
  @Test func thisMachineHasKubectlMinors() {
    #expect(!KubectlMinors.present.isEmpty)
  }

  @Test(arguments: KubectlMinors.present)
  func theDispatcherRunsTheServersMinor(minor: Int) async throws {
    let fixture = try await KubeFixture.make(minor: minor)
    let version = try await fixture.client.version()
    #expect(version.client.hasPrefix("v1.\(minor)."), "\(version.client)")
    #expect(version.server == "v1.\(minor).0-lockstep-standin")
  }

  @Test(arguments: KubectlMinors.present)
  func errorsAreRecognisedOnEveryMinor(minor: Int) async throws {
    let fixture = try await KubeFixture.make(minor: minor)
    let client = fixture.client
    try fixture.seedDeployment()
    await #expect(
      throws: KubernetesError.notFound(
        kind: "deployment", name: "nope", namespace: fixture.namespace)
    ) { _ = try await client.deployment("nope") }

    let read = try await client.deployment("aura-api")
    try fixture.standIn.mergePatchDeployment(
      namespace: fixture.namespace, name: "aura-api", patch: ["metadata": ["labels": ["x": "y"]]])
    await #expect(throws: KubernetesError.conflict(kind: "deployment", name: "aura-api")) {
      try await client.setEnv(
        deployment: "aura-api", container: "api", values: ["A": SecretBytes(utf8: "2")],
        resourceVersion: read.resourceVersion)
    }

    try fixture.standIn.deny(verb: "patch", resource: "deployments", namespace: fixture.namespace)
    do {
      try await client.rolloutRestart("aura-api")
      Issue.record("the restart should have been forbidden")
    } catch {
      guard case .forbidden(_, let detail) = error else {
        Issue.record("expected forbidden, got \(error)")
        return
      }
      #expect(detail.contains("cannot patch resource \"deployments\""))
    }
    #expect(try await client.canI("patch", "deployments") == false)
    #expect(try await client.canI("get", "deployments"))

    let missing = try await KubeFixture.make(minor: minor)
    let elsewhere = KubectlClient(
      .init(
        kubeconfig: missing.client.configuration.kubeconfig, namespace: "absent-\(minor)",
        environment: missing.client.configuration.environment))
    await #expect(throws: KubernetesError.namespaceMissing("absent-\(minor)")) {
      try await elsewhere.applySecret("s", data: ["A": SecretBytes(utf8: "a")])
    }
  }

  /// Lockstep writes Secrets as JSON manifests (`create|replace -f -`); kubectl 1.32 and later
  /// send a typed command's body (`create secret generic`, the docs' recipe) as protobuf,
  /// which the stand-in decodes as kube-apiserver does.
  @Test(arguments: KubectlMinors.present)
  func secretWritesOnEveryMinor(minor: Int) async throws {
    let fixture = try await KubeFixture.make(minor: minor)
    try await fixture.client.applySecret("written", data: ["A": SecretBytes(utf8: "1")])
    try await fixture.client.applySecret("written", data: ["A": SecretBytes(utf8: "2")])
    #expect(
      try fixture.standIn.secretData(namespace: fixture.namespace, name: "written") == ["A": "2"])

    let typed = try await ChildProcess.runDetached(
      "kubectl",
      [
        "--kubeconfig", fixture.client.configuration.kubeconfig ?? "", "--namespace",
        fixture.namespace, "create", "secret", "generic", "typed", "--from-literal=A=b",
      ],
      environment: fixture.client.configuration.environment, timeout: .seconds(60))
    #expect(typed.succeeded, "\(typed.stderrText)")
    #expect(
      try fixture.standIn.secretData(namespace: fixture.namespace, name: "typed") == ["A": "b"])
  }

  @Test(arguments: KubectlMinors.present)
  func rolloutsAndCredentialsOnEveryMinor(minor: Int) async throws {
    let fixture = try await KubeFixture.make(minor: minor)
    let client = fixture.client
    try fixture.seedDeployment("held", holdRollouts: true)
    let lines = Collector<String>()
    let status = Task {
      try await client.rolloutStatus("held", timeout: .seconds(600)) { lines.append($0) }
    }
    try await waitUntil("the first progress line") { !lines.all.isEmpty }
    #expect(lines.all.first == "Waiting for deployment spec update to be observed...")
    try fixture.standIn.rollout(namespace: fixture.namespace, deployment: "held", "step")
    try fixture.standIn.rollout(namespace: fixture.namespace, deployment: "held", "fail")
    await #expect(throws: KubernetesError.progressDeadlineExceeded(deployment: "held")) {
      try await status.value
    }

    try fixture.seedDeployment("paused", paused: true)
    await #expect(throws: KubernetesError.paused(deployment: "paused")) {
      try await client.rolloutRestart("paused")
    }

    let standIn = fixture.standIn
    let wrongToken = try await KubeFixture.make(
      kubeconfig: try standIn.kubeconfig(minor: minor, token: "wrong-token"))
    await #expect(
      throws: KubernetesError.unauthenticated(action: "read deployment \"aura-api\"")
    ) { _ = try await wrongToken.client.deployment("aura-api") }

    let noAuthorization = try await KubeFixture.make(
      kubeconfig: try standIn.kubeconfig(minor: minor, authorizationAPI: false))
    let error = KubernetesError.apiMissing(
      request: "kubectl auth can-i patch deployments", api: "authorization.k8s.io")
    await #expect(throws: error) {
      _ = try await noAuthorization.client.canI("patch", "deployments")
    }
    #expect(
      error.description
        == "kubectl auth can-i patch deployments: the server has no authorization.k8s.io API")
  }
}
