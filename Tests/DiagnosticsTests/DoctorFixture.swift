import Foundation
import LockstepCore
import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// The environment a user of the local stack would have (`source DIR/env`), pointing at the
/// test process's shared real servers: OpenBao, PostgreSQL, Redis, moto and the Kubernetes
/// stand-in. The PostgreSQL password travels in a 0600 passfile, as in the stack's env file.
struct DoctorFixture: Sendable {
  let vault: VaultTesting
  let postgres: LocalService
  let redis: LocalService
  let kubernetes: KubernetesStandIn
  let s3: LocalService
  let directory: String
  let environment: [String: String]

  static func make() async throws -> DoctorFixture {
    let vault = try await VaultTesting.shared()
    let postgres = try await SharedServices.shared.service(.postgres)
    let redis = try await SharedServices.shared.service(.redis)
    let kubernetes = try await KubernetesStandIn.shared()
    let s3 = try await SharedServices.shared.service(.s3)
    let directory = try TemporaryDirectory.make(prefix: "lockstep-doctor")
    let environment = try StackEnvironment.make(
      directory: directory, vaultAddress: vault.address, postgres: postgres,
      redisURL: "redis://127.0.0.1:\(redis.port)/0", kubeconfig: kubernetes.kubeconfig, s3: s3)
    return DoctorFixture(
      vault: vault, postgres: postgres, redis: redis, kubernetes: kubernetes, s3: s3,
      directory: directory, environment: environment)
  }

  /// Nothing configured: no server variables, and a PATH without kubectl.
  static func emptyEnvironment() throws -> [String: String] {
    ["PATH": "/nonexistent", "HOME": try TemporaryDirectory.make(prefix: "lockstep-doctor-home")]
  }

  /// Runs `psql` as the superuser over TCP (the passfile keeps the password out of argv).
  func psql(_ sql: String) throws {
    let result = try ChildProcess.run(
      "psql", ["-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
      environment: environment.filter { $0.key.hasPrefix("PG") || $0.key == "PATH" },
      timeout: .seconds(30))
    guard result.succeeded else { throw UserError("psql failed: \(result.stderrText)") }
  }

  /// Runs one Redis command with `redis-cli` (test-only, password-less shared server).
  func redisCLI(_ arguments: String...) throws {
    let result = try ChildProcess.run(
      "redis-cli", ["-h", "127.0.0.1", "-p", String(redis.port)] + arguments,
      timeout: .seconds(10))
    guard result.succeeded, !result.stdoutText.hasPrefix("(error)") else {
      throw UserError("redis-cli failed: \(result.stdoutText) \(result.stderrText)")
    }
  }

  /// A policy in the schema of docs/rotation.md, for the names this test created.
  static func policy(
    secret: String, role: String, namespace: String, deployment: String,
    redisVariable: String = "REDIS_URL"
  ) -> String {
    """
    version: 1
    name: doctor test
    vault:
      secret: \(secret)
    rotate:
      - key: SESSION_SECRET
        generate: { bytes: 32 }
      - key: DATABASE_PASSWORD
        generate: { password: 24 }
    targets:
      postgres:
        - role: \(role)
          password_key: DATABASE_PASSWORD
          verify_database: postgres
      kubernetes:
        - deployment: \(deployment)
          namespace: \(namespace)
          mode: secret
          secret: app-secrets
          keys: [SESSION_SECRET]
      redis:
        - url_env: \(redisVariable)
          pattern: "sess:*"

    """
  }

  /// A fresh KV v2 mount holding a live secret, a login role, a namespace with one
  /// deployment: everything a green `doctor --policy` needs. Returns the policy text.
  func seedPolicyTargets() throws -> (
    policy: String, mount: String, role: String, namespace: String
  ) {
    let mount = try vault.freshMount()
    try vault.call(
      "POST", "\(mount)/data/app/prod", body: "{\"data\":{\"SESSION_SECRET\":\"old\"}}")
    let role = "app_\(UInt32.random(in: 0...UInt32.max))"
    try psql("CREATE ROLE \(role) LOGIN")
    let namespace = try kubernetes.newNamespace("doctor")
    // The deployment reads the policy's Secret: preflight proves both exist and are linked.
    try kubernetes.createSecret(namespace: namespace, name: "app-secrets", values: ["A": "b"])
    try kubernetes.createDeployment(
      namespace: namespace, name: "web", containers: [.init("app", envFromSecrets: ["app-secrets"])]
    )
    let policy = Self.policy(
      secret: "\(mount)/app/prod", role: role, namespace: namespace, deployment: "web")
    return (policy, mount, role, namespace)
  }
}
