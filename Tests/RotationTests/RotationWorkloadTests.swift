import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

#if canImport(Glibc)
  import Glibc
#endif

/// Rotations whose Kubernetes target is a StatefulSet, a DaemonSet, or reads a Secret that
/// External Secrets Operator owns: the real `lockstep` binary, the real OpenBao, the real
/// kubectl and the stand-in (with its ESO-like controller reading that OpenBao).
@Suite("Rotation with StatefulSet, DaemonSet and operator-owned Secret targets")
struct RotationWorkloadTests {
  /// A fresh KV v2 mount with a live secret, a fresh namespace, a signing key.
  struct Fixture {
    let vault: VaultTesting
    let standIn: KubernetesStandIn
    let mount: String
    let namespace: String
    let directory: String
    let environment: [String: String]
    var policyPath: String { directory + "/policy.yaml" }
    var secretPath: String { "\(mount)/app/prod" }

    static func make() async throws -> Fixture {
      let vault = try await VaultTesting.shared()
      let standIn = try await KubernetesStandIn.shared()
      let mount = try vault.freshMount()
      let namespace = try standIn.newNamespace("rot-wl")
      let directory = try TemporaryDirectory.make(prefix: "rotation-workload")
      var environment = try KubernetesStandIn.kubectlEnvironment()
      environment["HOME"] = directory
      environment["KUBECONFIG"] = standIn.kubeconfig
      environment["KUBECACHEDIR"] = directory + "/kube-cache"
      environment["VAULT_ADDR"] = vault.address
      environment["VAULT_TOKEN"] = VaultTesting.rootToken
      environment["NO_COLOR"] = "1"
      let fixture = Fixture(
        vault: vault, standIn: standIn, mount: mount, namespace: namespace,
        directory: directory, environment: environment)
      try vault.call(
        "POST", "\(mount)/data/app/prod",
        body: #"{"data":{"SESSION_SECRET":"old-session","KEPT":"kept-value"}}"#)
      let keygen = try ChildProcess.run(
        Repository.lockstepBinary, ["keygen", "--signing", "--out", directory + "/signing.key"],
        environment: environment, timeout: .seconds(30))
      guard keygen.succeeded else { throw UserError("keygen failed: \(keygen.stderrText)") }
      return fixture
    }

    func writePolicy(target: String, timeout: String = "60s") throws {
      try """
      version: 1
      name: workload test
      vault:
        secret: \(secretPath)
      strategy: single
      rotate:
        - key: SESSION_SECRET
          generate: { bytes: 32, encoding: base64 }
      keep:
        - key: KEPT
          reason: a setting, not a credential
      targets:
        kubernetes:
          - \(target)
            namespace: \(namespace)
            keys: [SESSION_SECRET]
            rollout_timeout: \(timeout)

      """.write(toFile: policyPath, atomically: true, encoding: .utf8)
    }

    var rotateArguments: [String] {
      [
        "--policy", policyPath, "--signing-key", directory + "/signing.key", "--evidence-dir",
        directory + "/evidence", "--state-dir", directory + "/state", "--yes",
      ]
    }

    func rotate(_ verb: String) async throws -> ChildProcess.Result {
      try await ChildProcess.runDetached(
        Repository.lockstepBinary, ["rotate", verb] + rotateArguments,
        environment: environment, timeout: .seconds(120), directory: directory)
    }

    func liveSession() async throws -> String {
      let client = VaultClient(
        configuration: VaultConfiguration(
          address: vault.address, token: SecretBytes(utf8: VaultTesting.rootToken)))
      let live = try await client.read(secretPath)
      return live.data["SESSION_SECRET"]?.unsafeUTF8String() ?? ""
    }

    /// Every evidence file's text.
    func evidence() throws -> String {
      let folder = directory + "/evidence"
      let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
      return try names.map { try String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }
        .joined(separator: "\n")
    }

    func template(_ resource: String, _ name: String) throws -> [String: Any] {
      let object = try standIn.object(resource, namespace: namespace, name: name)
      let spec = object["spec"] as? [String: Any]
      return spec?["template"] as? [String: Any] ?? [:]
    }

    func restartedAt(_ resource: String, _ name: String) throws -> String? {
      let metadata = try template(resource, name)["metadata"] as? [String: Any]
      return (metadata?["annotations"] as? [String: String])?["kubectl.kubernetes.io/restartedAt"]
    }
  }

  @Test func aStatefulSetTargetGetsTheNewSecretAndRollsOut() async throws {
    let fixture = try await Fixture.make()
    try fixture.standIn.createSecret(
      namespace: fixture.namespace, name: "app-env", values: ["SESSION_SECRET": "old-session"])
    try fixture.standIn.createWorkload(
      "statefulsets", namespace: fixture.namespace, name: "worker", secret: "app-env",
      replicas: 3)
    try fixture.writePolicy(
      target: "workload: statefulset/worker\n      mode: secret\n      secret: app-env")
    let result = try await fixture.rotate("run")
    #expect(result.status == 0, "\(result.stdoutText)\(result.stderrText)")
    let live = try await fixture.liveSession()
    #expect(live != "old-session" && !live.isEmpty)
    let secret = try fixture.standIn.secretData(namespace: fixture.namespace, name: "app-env")
    #expect(secret?["SESSION_SECRET"] == live)
    #expect(try fixture.restartedAt("statefulsets", "worker") != nil)
    let object = try fixture.standIn.object(
      "statefulsets", namespace: fixture.namespace, name: "worker")
    let status = object["status"] as? [String: Any] ?? [:]
    #expect(status["updatedReplicas"] as? Int == 3)
    #expect(status["currentRevision"] as? String == status["updateRevision"] as? String)
    let evidence = try fixture.evidence()
    #expect(evidence.contains("statefulset \(fixture.namespace)/worker"))
    #expect(evidence.contains(#""secret_written_by":"patched""#))
    #expect(!evidence.contains(live))
    #expect(!(result.stdoutText + result.stderrText).contains(live))
  }

  @Test func aDaemonSetTargetGetsTheNewEnvAndRollsOut() async throws {
    let fixture = try await Fixture.make()
    try fixture.standIn.createWorkload(
      "daemonsets", namespace: fixture.namespace, name: "agent", secret: "unrelated",
      annotations: ["lockstep.test/nodes": "3"])
    try fixture.writePolicy(target: "kind: daemonset\n      deployment: agent\n      mode: env")
    let result = try await fixture.rotate("run")
    #expect(result.status == 0, "\(result.stdoutText)\(result.stderrText)")
    let live = try await fixture.liveSession()
    let pod = try fixture.template("daemonsets", "agent")["spec"] as? [String: Any]
    let container = (pod?["containers"] as? [[String: Any]])?.first
    let env = container?["env"] as? [[String: Any]] ?? []
    #expect(
      env.first { $0["name"] as? String == "SESSION_SECRET" }?["value"] as? String == live)
    #expect(try fixture.restartedAt("daemonsets", "agent") != nil)
    let object = try fixture.standIn.object(
      "daemonsets", namespace: fixture.namespace, name: "agent")
    let status = object["status"] as? [String: Any] ?? [:]
    #expect(status["updatedNumberScheduled"] as? Int == 3)
    #expect(status["numberAvailable"] as? Int == 3)
    #expect(try fixture.evidence().contains("daemonset \(fixture.namespace)/agent"))
  }

  @Test func aPartitionedStatefulSetIsRefusedBeforeAnyChange() async throws {
    let fixture = try await Fixture.make()
    try fixture.standIn.createSecret(
      namespace: fixture.namespace, name: "app-env", values: ["SESSION_SECRET": "old-session"])
    try fixture.standIn.createWorkload(
      "statefulsets", namespace: fixture.namespace, name: "db", secret: "app-env", replicas: 3,
      strategy: ["type": "RollingUpdate", "rollingUpdate": ["partition": 1]])
    try fixture.writePolicy(
      target: "workload: statefulset/db\n      mode: secret\n      secret: app-env")
    let result = try await fixture.rotate("run")
    #expect(result.status != 0)
    #expect(result.stderrText.contains("partitioned at 1"), "\(result.stderrText)")
    #expect(try await fixture.liveSession() == "old-session")
    #expect(try fixture.restartedAt("statefulsets", "db") == nil)
  }

  // MARK: - External Secrets Operator

  /// An ExternalSecret `app` syncing SESSION_SECRET and KEPT from the live secret into
  /// Secret `app-env`, read by deployment `api`; Lockstep may not write Secrets there.
  func esoSetup(_ fixture: Fixture, syncDelay: Int? = nil, configure: Bool = true) async throws {
    let store = "vault-\(fixture.mount)"
    if configure {
      try fixture.standIn.configureExternalSecrets(
        store: store, address: fixture.vault.address, token: VaultTesting.rootToken,
        mount: fixture.mount)
    }
    try fixture.standIn.createExternalSecret(
      namespace: fixture.namespace, name: "app", store: store, path: "app/prod",
      keys: ["SESSION_SECRET", "KEPT"], target: "app-env",
      annotations: syncDelay.map { ["lockstep.test/sync-delay-ms": String($0)] } ?? [:])
    if configure {
      for _ in 0..<100
      where try fixture.standIn.secretData(namespace: fixture.namespace, name: "app-env") == nil {
        try await Task.sleep(for: .milliseconds(100))
      }
    } else {
      try fixture.standIn.createSecret(
        namespace: fixture.namespace, name: "app-env", values: ["SESSION_SECRET": "old-session"])
      try fixture.standIn.expectSuccess(
        fixture.standIn.request(
          "PATCH", "/api/v1/namespaces/\(fixture.namespace)/secrets/app-env",
          json: [
            "metadata": [
              "ownerReferences": [
                [
                  "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                  "name": "app", "uid": UUID().uuidString.lowercased(), "controller": true,
                ]
              ]
            ]
          ], contentType: "application/merge-patch+json"), "own the secret")
    }
    try fixture.standIn.createDeployment(
      namespace: fixture.namespace, name: "api", replicas: 2,
      containers: [.init("api", image: "aura/api:1", envFromSecrets: ["app-env"])])
    for verb in ["patch", "update", "create"] {
      try fixture.standIn.deny(verb: verb, resource: "secrets", namespace: fixture.namespace)
    }
  }

  /// The Secret holds the new value, written only by the controller, before the restart.
  func expectSyncedByTheControllerThenRestarted(_ fixture: Fixture) async throws {
    let live = try await fixture.liveSession()
    #expect(live != "old-session" && !live.isEmpty)
    let secret = try fixture.standIn.secretData(namespace: fixture.namespace, name: "app-env")
    #expect(secret?["SESSION_SECRET"] == live)
    #expect(secret?["KEPT"] == "kept-value")
    let lines = try fixture.standIn.requestLines()
    let secrets = "/api/v1/namespaces/\(fixture.namespace)/secrets"
    #expect(
      !lines.contains {
        $0.contains(secrets) && !$0.hasPrefix("GET") && !$0.hasPrefix("CONTROLLER")
      },
      "only the controller writes the Secret")
    let restart = try #require(
      lines.lastIndex {
        $0.hasPrefix("PATCH /apis/apps/v1/namespaces/\(fixture.namespace)/deployments/api?")
          && $0.contains("fieldManager=kubectl-rollout")
      })
    // The controller's first write after Lockstep first asked it to sync carries the new
    // values; a resumed run asks again, and that later sync may land after the restart
    // (writing the same values), so the first one is what must precede the restart.
    let asked = try #require(
      lines.firstIndex {
        $0.hasPrefix("PATCH ") && $0.contains("/externalsecrets/app")
      })
    let sync = try #require(
      lines.indices.first {
        $0 > asked && lines[$0].hasPrefix("CONTROLLER \(secrets)/app-env")
      })
    #expect(sync < restart, "the pods were restarted after the controller wrote the Secret")
    #expect(try fixture.restartedAt("deployments", "api") != nil)
    let evidence = try fixture.evidence()
    #expect(evidence.contains("external-secrets-operator:ExternalSecret/app"))
    #expect(!evidence.contains(live))
  }

  @Test func anEsoOwnedSecretGetsTheNewValuesOnlyThroughTheController() async throws {
    let fixture = try await Fixture.make()
    try await esoSetup(fixture)
    try fixture.writePolicy(target: "deployment: api\n      mode: secret\n      secret: app-env")
    let result = try await fixture.rotate("run")
    #expect(result.status == 0, "\(result.stdoutText)\(result.stderrText)")
    #expect(
      (result.stdoutText + result.stderrText).contains("asked ExternalSecret \"app\""),
      "\(result.stdoutText)\(result.stderrText)")
    try await expectSyncedByTheControllerThenRestarted(fixture)
  }

  /// The controller's sync delay (`lockstep.test/sync-delay-ms`), read by the stand-in at
  /// each sync request; changing it alone asks for no sync.
  func setSyncDelay(_ fixture: Fixture, milliseconds: Int) throws {
    try fixture.standIn.expectSuccess(
      fixture.standIn.request(
        "PATCH", "/apis/external-secrets.io/v1/namespaces/\(fixture.namespace)/externalsecrets/app",
        json: ["metadata": ["annotations": ["lockstep.test/sync-delay-ms": String(milliseconds)]]],
        contentType: "application/merge-patch+json"), "set the sync delay")
  }

  @Test func killedWhileWaitingForTheControllerThenResumed() async throws {
    let fixture = try await Fixture.make()
    try await esoSetup(fixture)
    // The controller now takes an hour to sync: the kill below lands during Lockstep's
    // wait however slow the machine is (a 4 s delay was outrun on a loaded CI host).
    try setSyncDelay(fixture, milliseconds: 3_600_000)
    try fixture.writePolicy(target: "deployment: api\n      mode: secret\n      secret: app-env")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Repository.lockstepBinary)
    process.arguments = ["rotate", "run"] + fixture.rotateArguments
    process.environment = fixture.environment
    process.currentDirectoryURL = URL(fileURLWithPath: fixture.directory)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Wait until Lockstep asked the ExternalSecret to sync, then kill it mid-wait.
    var asked = false
    for _ in 0..<300 where !asked {
      try await Task.sleep(for: .milliseconds(100))
      let object = try fixture.standIn.object(
        "externalsecrets", namespace: fixture.namespace, name: "app")
      let annotations = (object["metadata"] as? [String: Any])?["annotations"] as? [String: String]
      asked = annotations?["force-sync"] != nil
    }
    #expect(asked, "lockstep annotated the ExternalSecret")
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(try fixture.restartedAt("deployments", "api") == nil, "killed before the restart")

    // The controller is back to normal: the resumed run asks again and gets its sync.
    try setSyncDelay(fixture, milliseconds: 200)
    let resumed = try await fixture.rotate("resume")
    #expect(resumed.status == 0, "\(resumed.stdoutText)\(resumed.stderrText)")
    try await expectSyncedByTheControllerThenRestarted(fixture)
  }

  @Test func aControllerThatNeverSyncsTimesOutNamingIt() async throws {
    let fixture = try await Fixture.make()
    // No SecretStore given to the controller: the ExternalSecret never syncs.
    try await esoSetup(fixture, configure: false)
    try fixture.writePolicy(
      target: "deployment: api\n      mode: secret\n      secret: app-env", timeout: "3s")
    let result = try await fixture.rotate("run")
    #expect(result.status != 0)
    #expect(
      result.stderrText.contains(
        "ExternalSecret \"app\" (External Secrets Operator) did not write the new values to Secret \"app-env\" within 3 s"
      ), "\(result.stderrText)")
    #expect(try fixture.restartedAt("deployments", "api") == nil)
  }
}
