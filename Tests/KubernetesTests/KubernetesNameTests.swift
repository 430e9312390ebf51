import Foundation
import Kubernetes
import LockstepCore
import TestSupport
import Testing

/// Names from policies and drift sources reach kubectl's argv. A flag-shaped name
/// (`--kubeconfig=evil.yaml`) once made kubectl load an attacker's kubeconfig and run its exec
/// plugin; these tests plant such a kubeconfig, whose plugin would create a marker file, and
/// feed every name field a flag.
@Suite("Kubernetes names are checked and never reach kubectl as flags")
struct KubernetesNameTests {
  static let flag = "--kubeconfig=evil.yaml"

  @Test func eachKindFollowsItsRule() {
    #expect(KubernetesName.problem("aura-api", as: .deployment) == nil)
    #expect(KubernetesName.problem("aura.api-1", as: .secret) == nil)
    #expect(KubernetesName.problem("prod", as: .namespace) == nil)
    #expect(KubernetesName.problem("api", as: .container) == nil)
    #expect(KubernetesName.problem("gke_proj_europe-west1_prod", as: .context) == nil)
    #expect(KubernetesName.problem("arn:aws:eks:eu-1:1:cluster/prod", as: .context) == nil)
    // A namespace and a container are labels: no dots, at most 63.
    #expect(KubernetesName.problem("a.b", as: .namespace) != nil)
    #expect(KubernetesName.problem("a.b", as: .container) != nil)
    #expect(KubernetesName.problem(String(repeating: "a", count: 64), as: .namespace) != nil)
    #expect(KubernetesName.problem(String(repeating: "a", count: 64), as: .deployment) == nil)
    #expect(KubernetesName.problem(String(repeating: "a", count: 254), as: .deployment) != nil)
    for bad in ["", "-x", "x-", "Aura", "a_b", "a..b", ".a", "a/b", "a b", Self.flag] {
      #expect(KubernetesName.problem(bad, as: .deployment) != nil, "\(bad)")
    }
    #expect(KubernetesName.problem("-prod", as: .context) != nil)
    #expect(KubernetesName.problem("", as: .context) != nil)
    #expect(KubernetesName.problem("prod\u{1B}[2J", as: .context) != nil)
    let reason = KubernetesName.problem("x\u{1B}[32m", as: .namespace) ?? ""
    #expect(!reason.contains("\u{1B}"))
    #expect(reason.contains("\\u{1B}"))
  }

  /// A directory holding `evil.yaml`, whose exec plugin creates `marker` when run.
  func evilDirectory() throws -> (directory: String, marker: String) {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-evil")
    let marker = directory + "/marker"
    let plugin = directory + "/plugin"
    try "#!/bin/sh\ntouch '\(marker)'\necho '{}'\n".write(
      toFile: plugin, atomically: true, encoding: .utf8)
    chmod(plugin, 0o755)
    try """
    apiVersion: v1
    kind: Config
    clusters:
    - name: evil
      cluster: {server: "https://127.0.0.1:1"}
    contexts:
    - name: evil
      context: {cluster: evil, user: evil}
    current-context: evil
    users:
    - name: evil
      user:
        exec:
          apiVersion: client.authentication.k8s.io/v1
          command: \(plugin)
          interactiveMode: Never
    """.write(toFile: directory + "/evil.yaml", atomically: true, encoding: .utf8)
    return (directory, marker)
  }

  @Test func theClientRefusesFlagShapedNamesInEveryField() async throws {
    let standIn = try await KubernetesStandIn.shared()
    let (_, marker) = try evilDirectory()
    let invocations = Collector<KubectlInvocation>()
    func client(
      namespace: String = "default", context: String? = nil, impersonate: String? = nil
    ) throws -> KubectlClient {
      let environment = try KubernetesStandIn.kubectlEnvironment()
      return KubectlClient(
        .init(
          kubeconfig: standIn.kubeconfig, context: context, namespace: namespace,
          impersonate: impersonate, environment: environment)
      ) { invocations.append($0) }
    }
    let flag = Self.flag
    let value = ["A": SecretBytes(utf8: "a")]
    let reference = ["A": SecretKeyReference(secret: flag, key: "A")]
    let attempts: [(String, @Sendable () async throws -> Void)] = [
      ("deployment", { [client = try client()] in _ = try await client.deployment(flag) }),
      ("restart", { [client = try client()] in try await client.rolloutRestart(flag) }),
      (
        "status",
        { [client = try client()] in try await client.rolloutStatus(flag, timeout: .seconds(5)) }
      ),
      ("secret", { [client = try client()] in try await client.applySecret(flag, data: value) }),
      ("secret keys", { [client = try client()] in _ = try await client.secretKeys(flag) }),
      ("config map keys", { [client = try client()] in _ = try await client.configMapKeys(flag) }),
      (
        "container",
        { [client = try client()] in
          try await client.setEnv(deployment: "web", container: flag, values: value)
        }
      ),
      (
        "secretKeyRef",
        { [client = try client()] in
          try await client.setEnvFromSecret(
            deployment: "web", container: "app", references: reference)
        }
      ),
      ("namespace", { [client = try client(namespace: flag)] in _ = try await client.version() }),
      ("context", { [client = try client(context: flag)] in _ = try await client.version() }),
      ("as", { [client = try client(impersonate: flag)] in _ = try await client.version() }),
    ]
    for (field, attempt) in attempts {
      do {
        try await attempt()
        Issue.record("\(field): a flag-shaped name was accepted")
      } catch let error as KubernetesError {
        guard case .invalidName = error else {
          Issue.record("\(field): expected invalidName, got \(error)")
          continue
        }
        #expect(error.exitStatus == .usage)
      }
    }
    #expect(invocations.all.isEmpty, "kubectl ran: \(invocations.all.map(\.arguments))")
    #expect(!FileManager.default.fileExists(atPath: marker))
  }

  /// Names that pass are still placed where kubectl cannot take them for flags: after `--`
  /// or inside `--flag=value`.
  @Test func namesFollowDoubleDashOrAreJoinedToTheirFlag() async throws {
    let fixture = try await KubeFixture.make(context: KubernetesStandIn.context)
    try fixture.seedDeployment()
    _ = try await fixture.client.deployment("aura-api")
    try await fixture.client.rolloutRestart("aura-api")
    try await fixture.client.applySecret("s", data: ["A": SecretBytes(utf8: "a")])
    for invocation in fixture.invocations.all {
      let arguments = invocation.arguments
      #expect(
        arguments.starts(with: ["--context=lockstep-local", "--namespace=\(fixture.namespace)"]))
      for name in ["aura-api", "deployment/aura-api", "s"] {
        if let index = arguments.firstIndex(of: name) {
          #expect(arguments[..<index].contains("--"), "\(arguments)")
        }
      }
    }
  }

  @Test func driftRefusesAFlagShapedSourceAndRunsNoPlugin() throws {
    let (directory, marker) = try evilDirectory()
    try "A\n".write(toFile: directory + "/keys.txt", atomically: true, encoding: .utf8)
    for source in [
      "k8s:default/\(Self.flag)", "k8s:\(Self.flag)/web", "k8s:default/web/\(Self.flag)",
    ] {
      let result = try ChildProcess.run(
        Repository.lockstepBinary, ["drift", "--expect", "keys:keys.txt", "--against", source],
        environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"],
        timeout: .seconds(60), directory: directory)
      #expect(result.status == 64, "\(result.stderrText)")
      #expect(result.stderrText.contains("is not a valid Kubernetes"), "\(result.stderrText)")
    }
    #expect(!FileManager.default.fileExists(atPath: marker))
  }

  @Test func aDriftPolicyWithAFlagShapedSourceIsRefusedWithItsLine() throws {
    let (directory, marker) = try evilDirectory()
    try "A\n".write(toFile: directory + "/keys.txt", atomically: true, encoding: .utf8)
    let policy = directory + "/drift.yaml"
    try """
    version: 1
    environments:
      production:
        expect: keys:keys.txt
        against:
          - k8s:default/web
          - "k8s:default/\(Self.flag)"
    """.write(toFile: policy, atomically: true, encoding: .utf8)
    let result = try ChildProcess.run(
      Repository.lockstepBinary, ["drift", "--policy", policy, "--env", "production"],
      environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"],
      timeout: .seconds(60), directory: directory)
    #expect(result.status == 1, "\(result.stderrText)")
    #expect(result.stderrText.contains("\(policy):7: "), "\(result.stderrText)")
    #expect(result.stderrText.contains("is not a valid Kubernetes deployment name"))
    #expect(!FileManager.default.fileExists(atPath: marker))
  }

  @Test func aRotationPolicyWithAFlagShapedNameIsRefusedWithItsLine() throws {
    let (directory, marker) = try evilDirectory()
    let shipped = try String(
      contentsOfFile: Repository.root + "/policies/rotation/aura-sign.yaml", encoding: .utf8)
    for (field, original) in [
      ("deployment", "deployment: aura-api"), ("namespace", "namespace: default"),
      ("secret", "secret: aura-secrets"),
    ] {
      let policy = directory + "/\(field).yaml"
      let lines = shipped.components(separatedBy: "\n")
      let line = try #require(lines.firstIndex { $0.contains(original) }) + 1
      let replaced = original.replacingOccurrences(
        of: original.split(separator: " ").last!, with: "'\(Self.flag)'")
      var edited = lines
      edited[line - 1] = edited[line - 1].replacingOccurrences(of: original, with: replaced)
      try edited.joined(separator: "\n").write(toFile: policy, atomically: true, encoding: .utf8)
      let result = try ChildProcess.run(
        Repository.lockstepBinary, ["rotate", "plan", "--policy", policy],
        environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"],
        timeout: .seconds(60), directory: directory)
      #expect(result.status == 65, "\(field): \(result.stderrText)")
      #expect(result.stderrText.contains("\(policy):\(line):"), "\(field): \(result.stderrText)")
      #expect(result.stderrText.contains("not a valid Kubernetes"), "\(result.stderrText)")
    }
    #expect(!FileManager.default.fileExists(atPath: marker))
  }
}
