import Foundation
import LockstepCore
import Postgres
import Redis
import TestSupport
import Vault

/// A whole Aura-Sign system on real servers (OpenBao, PostgreSQL, Redis, the Kubernetes
/// stand-in with the real kubectl), seeded by the same script as `make demo`, and the
/// `lockstep` binary run against it as a user would.
final class RotationStack: Sendable {
  let vault: LocalService
  let postgres: LocalService
  let redis: LocalService
  let kubernetes: LocalService
  let directory: String
  let environment: [String: String]
  /// A token holding only policies/vault/lockstep-rotate.hcl: the rotation commands run
  /// with it (the seed uses the root token), so a missing capability fails the tests.
  let rotateToken: String
  /// Every argv and environment the `kubectl` children received (through a wrapper first on
  /// PATH that logs, then runs the real kubectl).
  var kubectlLog: String { directory + "/kubectl-argv.log" }
  var policyPath: String { directory + "/policy.yaml" }

  init(rolloutDelayMilliseconds: Int = 100) throws {
    vault = try LocalService.start(.vault)
    postgres = try LocalService.start(.postgres)
    redis = try LocalService.start(.redis, password: "redis-\(UUID().uuidString.prefix(8))")
    kubernetes = try LocalService.start(.k8s)
    directory = try TemporaryDirectory.make(prefix: "rotation")
    let rules = try String(
      contentsOfFile: Repository.root + "/policies/vault/lockstep-rotate.hcl", encoding: .utf8)
    rotateToken =
      try VaultTesting(vault).token(policy: "lockstep-rotate", rules: rules).unsafeUTF8String()
      ?? ""
    let bin = directory + "/bin"
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    let realKubectl = ChildProcess.which("kubectl") ?? "/usr/bin/kubectl"
    try """
    #!/bin/sh
    { printf 'ARGV %s\\n' "$*"; env | sed 's/^/ENV /'; } >> '\(directory)/kubectl-argv.log'
    exec '\(realKubectl)' "$@"

    """.write(toFile: bin + "/kubectl", atomically: true, encoding: .utf8)
    chmod(bin + "/kubectl", 0o755)
    var environment = try StackEnvironment.make(
      directory: directory, vaultAddress: "http://127.0.0.1:\(vault.port)", postgres: postgres,
      redisURL: "redis://default:\(redis.password!)@127.0.0.1:\(redis.port)/0",
      kubeconfig: kubernetes.directory + "/kubeconfig")
    environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    environment["AURA_ROLLOUT_DELAY_MS"] = String(rolloutDelayMilliseconds)
    self.environment = environment
    // The shipped policy, with its log scan pointed at a file of this test.
    let shipped = try String(
      contentsOfFile: Repository.root + "/policies/rotation/aura-sign.yaml", encoding: .utf8)
    try "ok\nPOST /login 401 unauthorized\nunauthorized again\n".write(
      toFile: directory + "/aura-api.log", atomically: true, encoding: .utf8)
    try shipped.replacingOccurrences(
      of: "/var/log/aura-api.log", with: directory + "/aura-api.log"
    ).write(toFile: policyPath, atomically: true, encoding: .utf8)
    let keygen = try ChildProcess.run(
      Repository.lockstepBinary, ["keygen", "--signing", "--out", directory + "/signing.key"],
      environment: environment, timeout: .seconds(30))
    guard keygen.succeeded else { throw UserError("keygen failed: \(keygen.stderrText)") }
  }

  deinit {
    for service in [vault, postgres, redis, kubernetes] { service.stop() }
  }

  /// Seeds a fresh Aura-Sign system; returns the old database password.
  @discardableResult
  func seed() async throws -> SecretBytes {
    let result = try await ChildProcess.runDetached(
      "bash", [Repository.root + "/scripts/seed-aura.sh", directory + "/seed"],
      environment: environment, timeout: .seconds(120))
    guard result.succeeded else { throw UserError("seed failed: \(result.stderrText)") }
    return SecretBytes(
      utf8: try String(contentsOfFile: directory + "/seed/aura-old-password", encoding: .utf8))
  }

  /// Runs the built `lockstep` binary in this stack's environment.
  func run(_ arguments: String..., extraEnvironment: [String: String] = [:]) async throws
    -> ChildProcess.Result
  {
    try await ChildProcess.runDetached(
      Repository.lockstepBinary, arguments,
      environment: environment.merging(extraEnvironment) { $1 },
      timeout: .seconds(120), directory: directory)
  }

  func rotate(
    _ verb: String, _ extra: [String] = [], environment extraEnvironment: [String: String] = [:],
    policy: String? = nil
  ) async throws -> ChildProcess.Result {
    var arguments = ["rotate", verb, "--policy", policy ?? policyPath]
    if verb == "run" || verb == "resume" {
      arguments += [
        "--signing-key", directory + "/signing.key", "--evidence-dir", directory + "/evidence",
        "--state-dir", directory + "/state",
      ]
    }
    if verb == "run" || verb == "resume" { arguments.append("--yes") }
    var childEnvironment = environment
    childEnvironment["VAULT_TOKEN"] = rotateToken
    childEnvironment.merge(extraEnvironment) { $1 }
    return try await ChildProcess.runDetached(
      Repository.lockstepBinary, arguments + extra, environment: childEnvironment,
      timeout: .seconds(120), directory: directory)
  }

  var vaultClient: VaultClient {
    VaultClient(
      configuration: VaultConfiguration(
        address: "http://127.0.0.1:\(vault.port)", token: SecretBytes(utf8: "root")))
  }

  func liveSecret() async throws -> VaultSecret {
    try await vaultClient.read("secret/aura/production")
  }

  func postgresConfiguration(database: String = "aura_sign") -> PostgresConfiguration {
    PostgresConfiguration(
      environment: [:],
      parameters: ["host": "127.0.0.1", "port": String(postgres.port), "dbname": database])
  }

  func login(_ password: SecretBytes, role: String = "aura") throws -> PostgresLoginOutcome {
    try PostgresConnection.verifyLogin(postgresConfiguration(), role: role, secret: password)
  }

  /// A superuser connection (the password of the test cluster's `postgres`).
  func adminConnection(database: String = "aura_sign") throws -> PostgresConnection {
    var configuration = postgresConfiguration(database: database)
    configuration.parameters["user"] = "postgres"
    configuration.password = SecretBytes(utf8: postgres.password!)
    return try PostgresConnection(configuration)
  }

  func redisConnection() throws -> RedisConnection {
    try RedisConnection(RedisConfiguration(url: environment["REDIS_URL"]!))
  }

  /// `kubectl get … -o json` as parsed JSON.
  func kubectlJSON(_ arguments: String...) async throws -> [String: Any] {
    let result = try await ChildProcess.runDetached(
      "kubectl", ["get"] + arguments + ["-o", "json"], environment: environment,
      timeout: .seconds(30))
    guard result.succeeded,
      let object = try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any]
    else { throw UserError("kubectl get failed: \(result.stderrText)") }
    return object
  }

  /// Every file under the evidence and state directories, concatenated.
  func recordedFiles() throws -> String {
    var text = ""
    for sub in ["evidence", "state"] {
      let path = directory + "/" + sub
      for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
        text += (try? String(contentsOfFile: path + "/" + name, encoding: .utf8)) ?? ""
      }
    }
    return text
  }

  var postgresServerLog: String {
    (try? String(contentsOfFile: postgres.directory + "/pg/server.log", encoding: .utf8)) ?? ""
  }
}
