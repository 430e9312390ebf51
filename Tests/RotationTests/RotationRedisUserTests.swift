import Foundation
import LockstepCore
import Redis
import TestSupport
import Testing
import Vault

/// The Redis ACL user target end to end: the built binary against real OpenBao, Redis and
/// kubectl + the Kubernetes stand-in. The application's Redis user `aura` logs in with
/// `REDIS_PASSWORD` (and `REDIS_URL`, derived from it); Lockstep administers Redis as the
/// default user (`LOCKSTEP_REDIS_URL`). Serialized: each test drives a whole stack.
@Suite(.serialized) struct RotationRedisUserTests {
  static let policy = """
    version: 1
    name: redis user rotation
    vault:
      secret: secret/aura/production
    strategy: single
    rotate:
      - key: SESSION_SECRET
        generate: { bytes: 32, encoding: base64 }
      - key: REDIS_PASSWORD
        generate: { password: 32, classes: [lower, upper, digit] }
    derive:
      - key: REDIS_URL
        url_password: REDIS_PASSWORD
    keep:   # the seeded secret's other keys: not what this test rotates
      - { key: DATABASE_URL, reason: not under test here }
      - { key: DATABASE_PASSWORD, reason: not under test here }
      - { key: IRON_SESSION_PASSWORD, reason: not under test here }
      - { key: MINIO_ENDPOINT, reason: not under test here }
      - { key: MINIO_ACCESS_KEY, reason: not under test here }
      - { key: MINIO_SECRET_KEY, reason: not under test here }
      - { key: SMTP_PASSWORD, reason: not under test here }
      - { key: DB_POOL_MAX, reason: not under test here }
      - { key: FEATURE_FLAGS, reason: not under test here }
    targets:
      redis_users:
        - user: aura
          password_key: REDIS_PASSWORD
          url_env: LOCKSTEP_REDIS_URL
      kubernetes:
        - deployment: aura-api
          namespace: default
          mode: secret
          secret: aura-secrets
          keys: [SESSION_SECRET, REDIS_URL]
          rollout_timeout: 1m

    """

  /// A Redis side for the seeded stack: ACL user `aura` with a fresh old password, which
  /// the live secret holds as `REDIS_PASSWORD` and inside `REDIS_URL`.
  struct Setup {
    let old: String
    let before: VaultSecret
    let policyPath: String
    let environment: [String: String]
  }

  func prepare(_ stack: RotationStack) async throws -> Setup {
    try await stack.seed()
    let old = "old-" + UUID().uuidString
    let admin = try stack.redisConnection()
    try admin.command("ACL", "DELUSER", "aura")
    try admin.command(
      "ACL", "SETUSER", "aura", "on", RedisArgument(">" + old), "~*", "+@all", "-@admin")
    let url = "redis://aura:\(old)@127.0.0.1:\(stack.redis.port)/0"
    let live = try await stack.liveSecret()
    let data = live.data.merging(
      SecretMap([
        (key: "REDIS_PASSWORD", value: SecretBytes(utf8: old)),
        (key: "REDIS_URL", value: SecretBytes(utf8: url)),
      ]))
    _ = try await stack.vaultClient.write("secret/aura/production", data)
    let policyPath = stack.directory + "/redis-user-policy.yaml"
    try Self.policy.write(toFile: policyPath, atomically: true, encoding: .utf8)
    return Setup(
      old: old, before: try await stack.liveSecret(), policyPath: policyPath,
      environment: ["LOCKSTEP_REDIS_URL": stack.environment["REDIS_URL"]!])
  }

  func rotate(_ stack: RotationStack, _ setup: Setup, _ verb: String, fault: String? = nil)
    async throws -> ChildProcess.Result
  {
    var environment = setup.environment
    if let fault { environment["LOCKSTEP_FAULT"] = fault }
    return try await stack.rotate(verb, environment: environment, policy: setup.policyPath)
  }

  /// What a completed rotation leaves: the new password in Vault, in REDIS_URL and in the
  /// Secret; it logs in; the old one is refused; the user holds exactly one password.
  func expectRotated(
    _ stack: RotationStack, _ setup: Setup, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws -> String {
    let live = try await stack.liveSecret()
    #expect(live.version == (setup.before.version ?? 0) + 1, sourceLocation: sourceLocation)
    let new = try #require(live.data["REDIS_PASSWORD"]?.unsafeUTF8String())
    #expect(new != setup.old, sourceLocation: sourceLocation)
    let url = try #require(live.data["REDIS_URL"]?.unsafeUTF8String())
    #expect(
      url == "redis://aura:\(new)@127.0.0.1:\(stack.redis.port)/0", "REDIS_URL derived",
      sourceLocation: sourceLocation)
    for key in setup.before.data.keys
    where !["REDIS_PASSWORD", "REDIS_URL", "SESSION_SECRET"].contains(key) {
      #expect(
        live.data[key] == setup.before.data[key], "\(key) kept", sourceLocation: sourceLocation)
    }
    // The derived URL is what the application uses: it logs in as aura.
    #expect(
      try RedisConnection(RedisConfiguration(url: url)).whoAmI() == "aura",
      sourceLocation: sourceLocation)
    let configuration = try RedisConfiguration(url: stack.environment["REDIS_URL"]!)
    #expect(
      try configuration.login(user: "aura", password: SecretBytes(utf8: setup.old)) == .refused,
      "the old password is refused", sourceLocation: sourceLocation)
    let account = try #require(try stack.redisConnection().aclUser(named: "aura"))
    #expect(account.passwordHashes.count == 1, sourceLocation: sourceLocation)
    let secret = try await stack.kubectlJSON("secret", "aura-secrets")
    let data = try #require(secret["data"] as? [String: String])
    #expect(
      Data(base64Encoded: data["REDIS_URL"] ?? "").map { String(decoding: $0, as: UTF8.self) }
        == url, "the Secret holds the new REDIS_URL", sourceLocation: sourceLocation)
    for path in [
      "secret/lockstep/locks/aura/production", "secret/lockstep/staging/aura/production",
    ] {
      await #expect(throws: VaultError.self, "\(path) removed", sourceLocation: sourceLocation) {
        try await stack.vaultClient.read(path)
      }
    }
    return new
  }

  /// Neither password (nor its SHA-256) in outputs, evidence, journal, kubectl's argv and
  /// environment, or what Redis showed a MONITOR client and wrote to its log.
  func expectNoLeak(
    _ stack: RotationStack, _ setup: Setup, new: String, monitor: RedisMonitor?,
    outputs: [ChildProcess.Result], sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let recorded = try stack.recordedFiles()
    let kubectlLog = (try? String(contentsOfFile: stack.kubectlLog, encoding: .utf8)) ?? ""
    let serverLog =
      (try? String(contentsOfFile: stack.redis.directory + "/redis.log", encoding: .utf8)) ?? ""
    let monitored = monitor?.text ?? ""
    if monitor != nil {
      #expect(
        monitored.contains("\"AUTH\" \"(redacted)\" \"(redacted)\""),
        "MONITOR saw the verifying logins, redacted", sourceLocation: sourceLocation)
    }
    for value in [new, setup.old, sha256Hex(new), sha256Hex(setup.old)] {
      #expect(
        !recorded.contains(value), "in the evidence or journal", sourceLocation: sourceLocation)
      #expect(
        !kubectlLog.contains(value), "in kubectl's argv or environment",
        sourceLocation: sourceLocation)
      #expect(!serverLog.contains(value), "in the Redis log", sourceLocation: sourceLocation)
      #expect(!monitored.contains(value), "in MONITOR output", sourceLocation: sourceLocation)
      for output in outputs {
        #expect(
          !output.stdoutText.contains(value) && !output.stderrText.contains(value),
          "in output", sourceLocation: sourceLocation)
      }
    }
  }

  @Test func aRedisUserIsRotatedWithTheOldPasswordKeptUntilTheRollout() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let setup = try await prepare(stack)
    // The attacker's connection, opened with the stolen password.
    let attacker = try RedisConnection(
      RedisConfiguration(url: "redis://aura:\(setup.old)@127.0.0.1:\(stack.redis.port)/0"))
    try attacker.ping()
    let monitor = try RedisMonitor(stack.redis)
    defer { monitor.stop() }

    let plan = try await rotate(stack, setup, "plan")
    #expect(plan.status == 0, "rotate plan: \(plan.stderrText)")
    #expect(plan.stdoutText.contains("ACL SETUSER aura"))

    let run = try await rotate(stack, setup, "run")
    #expect(run.status == 0, "rotate run: \(run.stderrText)")
    let new = try await expectRotated(stack, setup)
    #expect(throws: RedisError.self, "the attacker's connection was ended") {
      try attacker.ping()
    }
    try stack.redisConnection().command("SET", "monitor-end", "1")
    #expect(monitor.wait(for: "monitor-end"))
    try expectNoLeak(stack, setup, new: new, monitor: monitor, outputs: [plan, run])

    let evidence = try stack.recordedFiles()
    #expect(evidence.contains("\"old_password\":\"accepted until the rollout\""))
    #expect(evidence.contains("\"old_password\":\"refused\""))
    #expect(evidence.contains("\"passwords_removed\":1"))
    #expect(evidence.contains("\"connections_terminated\":1"))
  }

  /// The old password must still log in while the rollout runs: the pods not yet restarted
  /// use it. A crash right before invalidate leaves both valid; resume removes the old.
  @Test func theOldPasswordWorksUntilInvalidate() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let setup = try await prepare(stack)
    let crashed = try await rotate(stack, setup, "run", fault: "invalidate:before")
    #expect(crashed.status == 128 + 9)
    let configuration = try RedisConfiguration(url: stack.environment["REDIS_URL"]!)
    #expect(
      try configuration.login(user: "aura", password: SecretBytes(utf8: setup.old)) == .accepted)
    let staged = try #require(try await stack.liveSecret().data["REDIS_PASSWORD"])
    #expect(try configuration.login(user: "aura", password: staged) == .accepted)
    let resumed = try await rotate(stack, setup, "resume")
    #expect(resumed.status == 0, "resume: \(resumed.stderrText)")
    let new = try await expectRotated(stack, setup)
    try expectNoLeak(stack, setup, new: new, monitor: nil, outputs: [crashed, resumed])
  }

  /// kill -9 before and after each step the Redis user target takes part in (stage keeps
  /// the previous password, apply adds the new one, verify logs in, invalidate removes the
  /// old one); the generic steps are RotationEndToEndTests' matrix.
  @Test func everyBoundaryOfTheRedisUserTargetSurvivesACrash() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    for step in ["stage", "apply", "verify", "invalidate"] {
      for when in ["before", "after"] {
        try? FileManager.default.removeItem(atPath: stack.directory + "/evidence")
        let setup = try await prepare(stack)
        let crashed = try await rotate(stack, setup, "run", fault: "\(step):\(when)")
        #expect(crashed.status == 128 + 9, "\(step):\(when) killed the process")
        let resumed = try await rotate(stack, setup, "resume")
        #expect(resumed.status == 0, "resume after \(step):\(when): \(resumed.stderrText)")
        let new = try await expectRotated(stack, setup)
        try expectNoLeak(stack, setup, new: new, monitor: nil, outputs: [crashed, resumed])
      }
    }
  }

  @Test func lockstepsOwnRedisUserIsRefused() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let setup = try await prepare(stack)
    let own = Setup(
      old: setup.old, before: setup.before, policyPath: setup.policyPath,
      environment: [
        "LOCKSTEP_REDIS_URL": "redis://aura:\(setup.old)@127.0.0.1:\(stack.redis.port)/0"
      ])
    let run = try await rotate(stack, own, "run")
    #expect(run.status != 0)
    #expect(
      run.stderrText.contains("the credential Lockstep itself uses (Redis user aura)"),
      "\(run.stderrText)")
    #expect(try await stack.liveSecret().version == setup.before.version, "nothing was changed")
    #expect(try stack.redisConnection().aclUser(named: "aura")?.passwordHashes.count == 1)
  }

  @Test func theDefaultUserWithoutACLUsersIsRefused() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let setup = try await prepare(stack)
    try stack.redisConnection().command("ACL", "DELUSER", "aura")
    let policy = Self.policy.replacingOccurrences(of: "user: aura", with: "user: default")
    try policy.write(toFile: setup.policyPath, atomically: true, encoding: .utf8)
    // Lockstep connects as default too; the reason given is the missing ACL users.
    let run = try await rotate(stack, setup, "run")
    #expect(run.status != 0)
    #expect(
      run.stderrText.contains("has no ACL users, only the default user"), "\(run.stderrText)")
    #expect(try await stack.liveSecret().version == setup.before.version, "nothing was changed")
  }
}

/// `printf %s VALUE | sha256sum`, for looking for the hash in logs.
func sha256Hex(_ value: String) -> String {
  let result = try? ChildProcess.run(
    "sha256sum", [], stdin: SecretBytes(utf8: value), timeout: .seconds(10))
  return String((result?.stdoutText ?? "").prefix(64))
}
