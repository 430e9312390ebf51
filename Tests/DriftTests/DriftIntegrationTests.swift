import Drift
import Foundation
import Kubernetes
import LockstepCore
import TestSupport
import Testing
import Vault

/// Drift against the real outside systems: OpenBao, and real kubectl talking to the
/// Kubernetes stand-in. Each test takes its own Vault mount or Kubernetes namespace.
@Suite struct DriftIntegrationTests {
  func rootClient(_ vault: VaultTesting) -> VaultClient {
    VaultClient(
      configuration: VaultConfiguration(
        address: vault.address, token: SecretBytes(utf8: VaultTesting.rootToken),
        retryDeadline: .seconds(3), parallelism: 2))
  }

  /// HOME with a `.vault-token`, so the CLI finds its token as the vault CLI would and no
  /// token travels in argv or the environment.
  func home(token: SecretBytes) throws -> String {
    let home = try TemporaryDirectory.make(prefix: "drift-home")
    let path = home + "/.vault-token"
    _ = FileManager.default.createFile(
      atPath: path, contents: Data(token.unsafeArray()), attributes: [.posixPermissions: 0o600])
    return home
  }

  @Test func vaultSourceAgainstTheFixture() async throws {
    let vault = try await VaultTesting.shared()
    let mount = try vault.freshMount()
    let fixture = try DriftFixture.make()
    var data = SecretMap()
    for (index, key) in ["DATABASE_URL", "SESSION_SECRET", "REDIS_URL", "OLD_KEY"].enumerated() {
      data[key] = SecretBytes(utf8: fixture.secrets[index])
    }
    try await rootClient(vault).write("\(mount)/aura/production", data)

    let names = try await VaultKeySource(client: rootClient(vault)).keyNames(
      "\(mount)/aura/production")
    #expect(names.sorted() == ["DATABASE_URL", "OLD_KEY", "REDIS_URL", "SESSION_SECRET"])

    let environment = [
      "PATH": "/usr/bin:/bin", "VAULT_ADDR": vault.address,
      "HOME": try home(token: SecretBytes(utf8: VaultTesting.rootToken)),
    ]
    for format in DriftFormat.allCases {
      let result = try fixture.run(
        [
          "drift", "--expect", "keys:env_keys.txt", "--against", "vault:\(mount)/aura/production",
          "--format", format.rawValue,
        ], environment: environment)
      #expect(result.status == 2, "\(format): \(result.stderrText)")
      #expect(result.stdoutText.contains("OLD_KEY"))
      #expect(result.stdoutText.contains("MINIO_SECRET_KEY"))
      #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
    }
    let keys = try fixture.run(
      ["env", "keys", "vault:\(mount)/aura/production"], environment: environment)
    #expect(keys.stdoutText == "DATABASE_URL\nOLD_KEY\nREDIS_URL\nSESSION_SECRET\n")
    #expect(fixture.leaksNothing(keys.stdoutText + keys.stderrText))
  }

  @Test func vaultDeniedExitsOne() async throws {
    let vault = try await VaultTesting.shared()
    let mount = try vault.freshMount()
    let fixture = try DriftFixture.make()
    try await rootClient(vault).write(
      "\(mount)/aura/production",
      SecretMap([(key: "A", value: SecretBytes(utf8: fixture.secrets[0]))]))
    let token = try vault.token(
      policy: VaultTesting.uniqueName("other"),
      rules: "path \"\(mount)/data/elsewhere\" { capabilities = [\"read\"] }")
    let result = try fixture.run(
      ["drift", "--expect", "keys:env_keys.txt", "--against", "vault:\(mount)/aura/production"],
      environment: [
        "PATH": "/usr/bin:/bin", "VAULT_ADDR": vault.address, "HOME": try home(token: token),
      ])
    #expect(result.status == 1, "\(result.stderrText)")
    #expect(result.stderrText.contains("vault:\(mount)/aura/production"))
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
  }

  @Test func kubernetesSourceExpandsEnvFrom() async throws {
    let standIn = try await KubernetesStandIn.shared()
    let namespace = try standIn.newNamespace("drift")
    let fixture = try DriftFixture.make()
    try standIn.createSecret(
      namespace: namespace, name: "aura-env",
      values: ["SESSION_SECRET": fixture.secrets[0], "IRON_SESSION_PASSWORD": fixture.secrets[1]])
    try standIn.createConfigMap(
      namespace: namespace, name: "aura-config", values: ["REDIS_URL": "redis://redis:6379"])
    try standIn.createDeployment(
      namespace: namespace, name: "aura-api",
      containers: [
        .init(
          "api", env: [("DATABASE_URL", fixture.secrets[2]), ("DEBUG_PORT", "9229")],
          envFromSecrets: ["aura-env"], envFromConfigMaps: ["aura-config"]),
        .init("sidecar", env: [("SIDECAR_ONLY", "1")]),
      ])

    let kubectlEnvironment = try KubernetesStandIn.kubectlEnvironment()
    let source = KubectlDeploymentEnvSource(
      configuration: .init(kubeconfig: standIn.kubeconfig, environment: kubectlEnvironment))
    let api = try await source.environmentNames(
      namespace: namespace, deployment: "aura-api", container: "api")
    #expect(
      api == ["DATABASE_URL", "DEBUG_PORT", "IRON_SESSION_PASSWORD", "REDIS_URL", "SESSION_SECRET"])
    let all = try await source.environmentNames(
      namespace: namespace, deployment: "aura-api", container: nil)
    #expect(all.contains("SIDECAR_ONLY"))

    var environment = kubectlEnvironment
    environment["KUBECONFIG"] = standIn.kubeconfig
    let result = try fixture.run(
      [
        "drift", "--expect", "keys:env_keys.txt", "--against", "k8s:\(namespace)/aura-api/api",
        "--format", "json",
      ], environment: environment)
    #expect(result.status == 2, "\(result.stderrText)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
    let report = try #require(object["report"] as? [String: Any])
    let first = try #require((report["sources"] as? [[String: Any]])?.first)
    let missing = (first["missing"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
    let extra = (first["extra"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
    #expect(missing == ["EMPTY_OK", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"])
    #expect(extra == ["DEBUG_PORT"])
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))

    let absent = try fixture.run(
      ["drift", "--expect", "keys:env_keys.txt", "--against", "k8s:\(namespace)/nope"],
      environment: environment)
    #expect(absent.status == 1)
  }
}
