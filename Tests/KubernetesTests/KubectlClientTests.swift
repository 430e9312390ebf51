import Foundation
import Kubernetes
import LockstepCore
import TestSupport
import Testing

@Suite("KubectlClient against the real kubectl and the API stand-in")
struct KubectlClientTests {
  @Test func readsContainersAndEnvOfADeployment() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment(envFromSecrets: ["aura-env"])
    let deployment = try await fixture.client.deployment("aura-api")
    #expect(deployment.name == "aura-api")
    #expect(deployment.namespace == fixture.namespace)
    #expect(deployment.replicas == 2)
    #expect(deployment.containers.map(\.name) == ["api", "worker"])
    let api = try #require(deployment.container(named: "api"))
    #expect(api.image == "aura/api:1")
    #expect(api.env == [EnvVar(name: "A", source: .literal), EnvVar(name: "B", source: .literal)])
    #expect(
      api.envFrom == [EnvFromSource(kind: .secret, name: "aura-env", prefix: "", optional: false)])
  }

  @Test func expandsEnvFromSecretsAndConfigMapsToKeyNames() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.standIn.createSecret(
      namespace: fixture.namespace, name: "aura-env",
      values: ["SESSION_SECRET": "s", "B": "from-secret"])
    try fixture.standIn.createConfigMap(
      namespace: fixture.namespace, name: "aura-config", values: ["LOG_LEVEL": "info"])
    try fixture.seedDeployment(envFromSecrets: ["aura-env"], envFromConfigMaps: ["aura-config"])
    let environments = try await fixture.client.environment(of: "aura-api", container: "api")
    let api = try #require(environments.first)
    #expect(environments.count == 1)
    #expect(api.container == "api")
    // envFrom first, then env; B from env replaces B from the Secret.
    #expect(api.names == ["SESSION_SECRET", "LOG_LEVEL", "A", "B"])
    #expect(api.keys[0].origin == .envFrom(.secret, name: "aura-env"))
    #expect(api.keys[1].origin == .envFrom(.configMap, name: "aura-config"))
    #expect(api.keys[3].origin == .env(.literal))
    #expect(try await fixture.client.secretKeys("aura-env") == ["B", "SESSION_SECRET"])

    let all = try await fixture.client.environment(of: "aura-api", container: nil)
    #expect(all.map(\.container) == ["api", "worker"])
    #expect(all[1].names == ["W"])
  }

  @Test func aMissingEnvFromSecretIsNotFound() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment(envFromSecrets: ["absent"])
    await #expect(
      throws: KubernetesError.notFound(
        kind: "Secret", name: "absent", namespace: fixture.namespace)
    ) {
      _ = try await fixture.client.environment(of: "aura-api", container: "api")
    }
  }

  @Test func aMissingDeploymentOrContainerIsNotFound() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    let missing = KubernetesError.notFound(
      kind: "deployment", name: "nope", namespace: fixture.namespace)
    await #expect(throws: missing) { _ = try await fixture.client.deployment("nope") }
    #expect(missing.exitStatus == .dataError)
    #expect(
      missing.description
        == "deployment \"nope\" was not found in namespace \"\(fixture.namespace)\"")
    await #expect(
      throws: KubernetesError.notFound(
        kind: "container", name: "ghost", namespace: fixture.namespace)
    ) {
      try await fixture.client.setEnv(
        deployment: "aura-api", container: "ghost", values: ["A": SecretBytes(utf8: "x")])
    }
    await #expect(throws: KubernetesError.self) {
      try await fixture.client.rolloutRestart("nope")
    }
  }

  @Test func applySecretCreatesThenUpdatesOnlyTheGivenKeys() async throws {
    let fixture = try await KubeFixture.make()
    try await fixture.client.applySecret(
      "aura-secrets", data: ["X": SecretBytes(utf8: "x1"), "Y": SecretBytes(utf8: "y1")])
    #expect(
      try fixture.standIn.secretData(namespace: fixture.namespace, name: "aura-secrets")
        == ["X": "x1", "Y": "y1"])
    try await fixture.client.applySecret(
      "aura-secrets", data: ["Y": SecretBytes(utf8: "y2"), "Z": SecretBytes(utf8: "z\"\n\u{1}")])
    #expect(
      try fixture.standIn.secretData(namespace: fixture.namespace, name: "aura-secrets")
        == ["X": "x1", "Y": "y2", "Z": "z\"\n\u{1}"])
    try await fixture.client.applySecret(
      "aura-secrets", data: ["Q": SecretBytes(utf8: "q")], replaceAllKeys: true)
    #expect(
      try fixture.standIn.secretData(namespace: fixture.namespace, name: "aura-secrets")
        == ["Q": "q"])
    try await fixture.client.applySecret(
      "fresh", data: ["K": SecretBytes(copying: [0, 255, 10])], replaceAllKeys: true)
    let object =
      try fixture.standIn.request(
        "GET", "/api/v1/namespaces/\(fixture.namespace)/secrets/fresh"
      ).json() as? [String: Any]
    #expect((object?["data"] as? [String: String])?["K"] == "AP8K")
    // No last-applied annotation holding the values in plain text.
    #expect(((object?["metadata"] as? [String: Any])?["annotations"]) == nil)
  }

  /// The API never lets a Secret's type change; replacing every key keeps the type.
  @Test func replaceAllKeysKeepsTheSecretsType() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.standIn.expectSuccess(
      fixture.standIn.request(
        "POST", "/api/v1/namespaces/\(fixture.namespace)/secrets",
        json: [
          "metadata": ["name": "db"], "type": "kubernetes.io/basic-auth",
          "stringData": ["username": "aura", "password": "old"],
        ]),
      "create")
    try await fixture.client.applySecret(
      "db", data: ["username": SecretBytes(utf8: "aura"), "password": SecretBytes(utf8: "new")],
      replaceAllKeys: true)
    let object =
      try fixture.standIn.request(
        "GET", "/api/v1/namespaces/\(fixture.namespace)/secrets/db"
      ).json() as? [String: Any]
    #expect(object?["type"] as? String == "kubernetes.io/basic-auth")
    #expect(
      try fixture.standIn.secretData(namespace: fixture.namespace, name: "db")
        == ["username": "aura", "password": "new"])
  }

  @Test func setEnvPatchesOneContainerAndKeepsTheRest() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    let before = try await fixture.client.deployment("aura-api")
    try await fixture.client.setEnv(
      deployment: "aura-api", container: "api",
      values: ["B": SecretBytes(utf8: "new-b"), "C": SecretBytes(utf8: "new-c")])
    #expect(
      try fixture.standIn.containerEnv(
        namespace: fixture.namespace, deployment: "aura-api", container: "api")
        == ["A": "1", "B": "new-b", "C": "new-c"])
    #expect(
      try fixture.standIn.containerEnv(
        namespace: fixture.namespace, deployment: "aura-api", container: "worker") == ["W": "w"])
    let after = try await fixture.client.deployment("aura-api")
    #expect(after.generation == before.generation + 1)
    #expect(after.containers.map(\.name) == ["api", "worker"])
  }

  @Test func setEnvFromSecretReplacesLiteralsWithSecretKeyRefs() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    try await fixture.client.setEnvFromSecret(
      deployment: "aura-api", container: "api",
      references: [
        "B": SecretKeyReference(secret: "aura-secrets", key: "B"),
        "SESSION_SECRET": SecretKeyReference(secret: "aura-secrets", key: "SESSION_SECRET"),
      ])
    #expect(
      try fixture.standIn.containerEnv(
        namespace: fixture.namespace, deployment: "aura-api", container: "api")
        == [
          "A": "1", "B": "secret:aura-secrets/B",
          "SESSION_SECRET": "secret:aura-secrets/SESSION_SECRET",
        ])
    let api = try #require(try await fixture.client.deployment("aura-api").container(named: "api"))
    #expect(
      api.env.first { $0.name == "B" }?.source == .secretKey(secret: "aura-secrets", key: "B"))
    // Back to a literal: valueFrom must go, or the API would hold both.
    try await fixture.client.setEnv(
      deployment: "aura-api", container: "api", values: ["B": SecretBytes(utf8: "lit")])
    let object = try fixture.standIn.deploymentObject(
      namespace: fixture.namespace, name: "aura-api")
    let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    #expect(text.contains("secretKeyRef") == true)  // SESSION_SECRET still references the Secret
    #expect(
      try fixture.standIn.containerEnv(
        namespace: fixture.namespace, deployment: "aura-api", container: "api")["B"] == "lit")
  }

  @Test func aStaleResourceVersionIsAConflict() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    let read = try await fixture.client.deployment("aura-api")
    try fixture.standIn.mergePatchDeployment(
      namespace: fixture.namespace, name: "aura-api", patch: ["metadata": ["labels": ["x": "y"]]])
    let conflict = KubernetesError.conflict(kind: "deployment", name: "aura-api")
    await #expect(throws: conflict) {
      try await fixture.client.setEnv(
        deployment: "aura-api", container: "api", values: ["A": SecretBytes(utf8: "2")],
        resourceVersion: read.resourceVersion)
    }
    #expect(conflict.exitStatus == .temporaryFailure)
    #expect(
      try fixture.standIn.containerEnv(
        namespace: fixture.namespace, deployment: "aura-api", container: "api")["A"] == "1")
  }

  @Test func aStatusWriteBetweenReadAndPatchIsRetriedFromAFreshRead() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    try await fixture.waitForRollout()
    // The controller writes status right after each of the next two reads (ours, and the
    // one `kubectl patch` makes itself): the first patch carries a stale version and gets a
    // real 409 from the API; the client reads again and the next one goes through.
    try fixture.standIn.writeStatusAfterGet(
      namespace: fixture.namespace, deployment: "aura-api", times: 2)
    let before = fixture.invocations.all.count
    try await fixture.client.setEnvFromSecret(
      deployment: "aura-api", container: "api",
      references: ["A": SecretKeyReference(secret: "aura-secrets", key: "A")])
    let patches = fixture.invocations.all.dropFirst(before).filter {
      $0.arguments.contains("patch")
    }
    #expect(patches.count >= 2)
    let api = try #require(try await fixture.client.deployment("aura-api").container(named: "api"))
    #expect(
      api.env.first { $0.name == "A" }?.source == .secretKey(secret: "aura-secrets", key: "A"))
  }

  @Test func endlessStatusWritesEndInAConflictAfterBoundedRetries() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    try await fixture.waitForRollout()
    try fixture.standIn.writeStatusAfterGet(
      namespace: fixture.namespace, deployment: "aura-api", times: 100)
    let before = fixture.invocations.all.count
    await #expect(throws: KubernetesError.conflict(kind: "deployment", name: "aura-api")) {
      try await fixture.client.setEnv(
        deployment: "aura-api", container: "api", values: ["A": SecretBytes(utf8: "2")])
    }
    let patches = fixture.invocations.all.dropFirst(before).filter {
      $0.arguments.contains("patch")
    }
    #expect(patches.count == KubectlClient.conflictAttempts)
  }

  /// The test drives the rollout phase by phase and waits, for each, until the client has
  /// reported kubectl's line for it: no timing window, so a slow machine only makes it slower.
  @Test func rolloutRestartBumpsGenerationAndStatusReportsProgress() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    try await fixture.waitForRollout()
    let before = try await fixture.client.deployment("aura-api")
    try fixture.standIn.rollout(namespace: fixture.namespace, deployment: "aura-api", "hold")
    let restarted = try #require(try await fixture.client.rolloutRestart("aura-api"))
    let after = try await fixture.client.deployment("aura-api")
    #expect(after.generation == before.generation + 1)
    // The restarted template, as kubectl printed it: stamped, and read like a fresh GET.
    #expect(restarted.annotations["kubectl.kubernetes.io/restartedAt"] != nil)
    #expect(restarted == (try await fixture.client.templateReferences("aura-api")))

    let lines = Collector<String>()
    let client = fixture.client
    let status = Task {
      try await client.rolloutStatus("aura-api", timeout: .seconds(600)) { lines.append($0) }
    }
    let waiting = "Waiting for deployment \"aura-api\" rollout to finish: "
    let expected = [
      "Waiting for deployment spec update to be observed...",
      waiting + "0 out of 2 new replicas have been updated...",
      waiting + "1 out of 2 new replicas have been updated...",
      waiting + "1 old replicas are pending termination...",
      waiting + "1 of 2 updated replicas are available...",
    ]
    for (index, line) in expected.enumerated() {
      try await waitUntil("the client reports \(line)") { lines.all.count > index }
      #expect(lines.all[index] == line)
      try fixture.standIn.rollout(namespace: fixture.namespace, deployment: "aura-api", "step")
    }
    try await status.value
    #expect(lines.all.count == expected.count + 1)
    #expect(lines.all.last == "deployment \"aura-api\" successfully rolled out")
  }

  /// A resumed rotation restarts right after the interrupted run did: kubectl refuses a
  /// second restart within the same second, and the client must wait it out, not fail.
  @Test func twoRestartsWithinASecondBothHappen() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    try await fixture.waitForRollout()
    let before = try await fixture.client.deployment("aura-api")
    try await fixture.client.rolloutRestart("aura-api")
    try await fixture.client.rolloutRestart("aura-api")
    #expect(try await fixture.client.deployment("aura-api").generation == before.generation + 2)
  }

  @Test func aRolloutThatNeverFinishesTimesOut() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment(holdRollouts: true)
    let timedOut = KubernetesError.rolloutTimedOut(deployment: "aura-api", seconds: 1)
    await #expect(throws: timedOut) {
      try await fixture.client.rolloutStatus("aura-api", timeout: .seconds(1))
    }
    #expect(
      timedOut.description == "the rollout of deployment \"aura-api\" did not finish within 1 s")
  }

  @Test func progressDeadlineExceededFailsTheRollout() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment(holdRollouts: true)
    try fixture.standIn.rollout(namespace: fixture.namespace, deployment: "aura-api", "step")
    try fixture.standIn.rollout(namespace: fixture.namespace, deployment: "aura-api", "fail")
    await #expect(throws: KubernetesError.progressDeadlineExceeded(deployment: "aura-api")) {
      try await fixture.client.rolloutStatus("aura-api", timeout: .seconds(600))
    }
  }

  /// kubectl refuses to restart a paused deployment; the rotation must say why, not wait.
  @Test func aPausedDeploymentIsNotRestarted() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment(paused: true)
    let before = try await fixture.client.deployment("aura-api")
    await #expect(throws: KubernetesError.paused(deployment: "aura-api")) {
      try await fixture.client.rolloutRestart("aura-api")
    }
    #expect(try await fixture.client.deployment("aura-api").generation == before.generation)
    #expect(
      KubernetesError.paused(deployment: "aura-api").description
        == "deployment \"aura-api\" is paused; resume it (kubectl rollout resume) before restarting it"
    )
  }

  @Test func canIFollowsTheServersRules() async throws {
    let fixture = try await KubeFixture.make()
    #expect(try await fixture.client.canI("patch", "deployments"))
    #expect(try await fixture.client.canI("create", "secrets"))
    try fixture.standIn.deny(verb: "patch", resource: "deployments", namespace: fixture.namespace)
    #expect(try await fixture.client.canI("patch", "deployments") == false)
    #expect(try await fixture.client.canI("get", "deployments"))
    let readOnly = try await KubeFixture.make(impersonate: "lockstep-readonly")
    #expect(try await readOnly.client.canI("update", "secrets") == false)
    #expect(try await readOnly.client.canI("list", "secrets"))
  }

  @Test func aDeniedWriteIsForbidden() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    try fixture.standIn.deny(verb: "patch", resource: "*", namespace: fixture.namespace)
    do {
      try await fixture.client.rolloutRestart("aura-api")
      Issue.record("rollout restart should have been forbidden")
    } catch {
      guard case .forbidden(let action, let detail) = error else {
        Issue.record("expected forbidden, got \(error)")
        return
      }
      #expect(action == "restart deployment \"aura-api\"")
      #expect(detail.contains("cannot patch resource \"deployments\""))
      #expect(error.exitStatus == .noPermission)
    }
    try fixture.standIn.createSecret(namespace: fixture.namespace, name: "s", values: ["A": "a"])
    do {
      try await fixture.client.applySecret("s", data: ["A": SecretBytes(utf8: "b")])
      Issue.record("the secret update should have been forbidden")
    } catch {
      guard case .forbidden = error else {
        Issue.record("expected forbidden, got \(error)")
        return
      }
    }
    #expect(try fixture.standIn.secretData(namespace: fixture.namespace, name: "s") == ["A": "a"])
  }

  @Test func contextIsResolvedAndAMissingOneIsNamed() async throws {
    let fixture = try await KubeFixture.make()
    #expect(try await fixture.client.currentContext() == KubernetesStandIn.context)
    let named = try await KubeFixture.make(context: KubernetesStandIn.context)
    #expect(try await named.client.currentContext() == KubernetesStandIn.context)
    let missing = try await KubeFixture.make(context: "prod-eu")
    await #expect(throws: KubernetesError.contextMissing("prod-eu")) {
      _ = try await missing.client.currentContext()
    }
    await #expect(throws: KubernetesError.contextMissing("prod-eu")) {
      _ = try await missing.client.deployment("aura-api")
    }
    #expect(
      KubernetesError.contextMissing("prod-eu").description
        == "the kubectl context \"prod-eu\" does not exist in the kubeconfig")
  }

  @Test func versionReportsClientAndServer() async throws {
    let fixture = try await KubeFixture.make()
    let version = try await fixture.client.version()
    let minor = KubernetesStandIn.selectedMinor ?? 32  // k8s_standin.py DEFAULT_MINOR
    #expect(version.client.hasPrefix("v1.\(minor)."))
    #expect(version.server == "v1.\(minor).0-lockstep-standin")
  }

  @Test func aMissingKubectlIsNamed() async throws {
    let fixture = try await KubeFixture.make(executable: "/nonexistent/bin/kubectl")
    let missing = KubernetesError.kubectlMissing("/nonexistent/bin/kubectl")
    await #expect(throws: missing) { _ = try await fixture.client.version() }
    await #expect(throws: missing) { try await fixture.client.rolloutRestart("x") }
    #expect(missing.exitStatus == .unavailable)
  }

  @Test func anUnreachableAPIServerIsReported() async throws {
    let standIn = try await KubernetesStandIn.shared()
    let directory = try TemporaryDirectory.make(prefix: "lockstep-kubeconfig")
    let port = FreePort.next()
    let original = try String(contentsOfFile: standIn.kubeconfig, encoding: .utf8)
    let kubeconfig = directory + "/kubeconfig"
    try original.replacingOccurrences(of: ":\(standIn.service.port)", with: ":\(port)")
      .write(toFile: kubeconfig, atomically: true, encoding: .utf8)
    let fixture = try await KubeFixture.make(kubeconfig: kubeconfig)
    let client = fixture.client
    try await expectUnreachable(port: port) { _ = try await client.deployment("aura-api") }
    try await expectUnreachable(port: port) { _ = try await client.version() }
    try await expectUnreachable(port: port) {
      try await client.applySecret("s", data: ["A": SecretBytes(utf8: "a")])
    }
  }
}

/// Waits until `condition` holds, polling; fails after a limit far above any healthy run,
/// so a loaded machine is slower, never red.
func waitUntil(
  _ what: String, limit: Duration = .seconds(120), _ condition: () throws -> Bool
) async throws {
  let clock = ContinuousClock()
  let deadline = clock.now + limit
  while try !condition() {
    guard clock.now < deadline else { throw UserError("gave up waiting until \(what)") }
    try await Task.sleep(for: .milliseconds(20))
  }
}

/// Runs `operation` and checks it failed with `unreachable` naming 127.0.0.1:`port`.
private func expectUnreachable(
  port: Int, _ operation: () async throws -> Void
) async throws {
  do {
    try await operation()
    Issue.record("expected the API to be unreachable")
  } catch let error as KubernetesError {
    guard case .unreachable(let detail) = error else {
      Issue.record("expected unreachable, got \(error)")
      return
    }
    #expect(detail.contains("127.0.0.1:\(port)"))
    #expect(error.exitStatus == .unavailable)
  }
}
