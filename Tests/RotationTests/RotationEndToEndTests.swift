import Foundation
import LockstepCore
import Postgres
import Redis
import TestSupport
import Testing
import Vault

/// The suites that drive a whole rotation stack (this one, RotationAlternatingTests,
/// RotationCoverageTests, RotationHostileTests and RotationReferenceTests) share these
/// helpers; each suite is serialized and they run beside each other, so that no one suite
/// is a long serial tail while the other core idles.
protocol RotationStackSuite {}

extension RotationStackSuite {
  static var rotated: [String] {
    [
      "SESSION_SECRET", "IRON_SESSION_PASSWORD", "DATABASE_PASSWORD", "DATABASE_URL",
      "REDIS_PASSWORD", "REDIS_URL",
    ]
  }

  /// What a completed rotation must leave behind, whichever way it got there.
  /// `alsoRotated`: keys this test's policy rotates beyond the shipped policy's (a hook's).
  func expectFullyRotated(
    _ stack: RotationStack, before: VaultSecret, oldPassword: SecretBytes,
    alsoRotated: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    let rotated = Self.rotated + alsoRotated
    let live = try await stack.liveSecret()
    #expect(
      live.version == (before.version ?? 0) + 1, "exactly one new live version",
      sourceLocation: sourceLocation)
    for key in before.data.keys where !rotated.contains(key) {
      #expect(live.data[key] == before.data[key], "\(key) kept", sourceLocation: sourceLocation)
      #expect(
        live.data.isJSON(key) == before.data.isJSON(key), "\(key) type kept",
        sourceLocation: sourceLocation)
    }
    for key in rotated {
      #expect(
        live.data[key] != nil && live.data[key] != before.data[key], "\(key) changed",
        sourceLocation: sourceLocation)
    }
    #expect(
      before.data.jsonKeys == ["DB_POOL_MAX", "FEATURE_FLAGS"], sourceLocation: sourceLocation)
    let newPassword = try #require(live.data["DATABASE_PASSWORD"])
    let url = try #require(live.data["DATABASE_URL"]?.unsafeUTF8String())
    #expect(
      url.contains(
        "aura:\(newPassword.unsafeUTF8String()!)@127.0.0.1:\(stack.postgres.port)/aura_sign"))

    #expect(try stack.login(newPassword) == .accepted, sourceLocation: sourceLocation)
    guard case .refused = try stack.login(oldPassword) else {
      Issue.record("the old password still logs in", sourceLocation: sourceLocation)
      return
    }

    let secret = try await stack.kubectlJSON("secret", "aura-secrets")
    let data = try #require(secret["data"] as? [String: String])
    for key in ["SESSION_SECRET", "IRON_SESSION_PASSWORD", "DATABASE_URL"] {
      let decoded = Data(base64Encoded: data[key] ?? "").map { SecretBytes(copying: $0) }
      #expect(
        decoded == live.data[key], "Secret key \(key) updated", sourceLocation: sourceLocation)
    }
    for name in ["aura-api", "aura-worker"] {
      let deployment = try await stack.kubectlJSON("deployment", name)
      let metadata = try #require(deployment["metadata"] as? [String: Any])
      let spec = try #require(deployment["spec"] as? [String: Any])
      let status = try #require(deployment["status"] as? [String: Any])
      let template = try #require(spec["template"] as? [String: Any])
      let annotations = (template["metadata"] as? [String: Any])?["annotations"] as? [String: Any]
      #expect(
        annotations?["kubectl.kubernetes.io/restartedAt"] != nil, "\(name) restarted",
        sourceLocation: sourceLocation)
      #expect(
        (status["observedGeneration"] as? Int ?? 0) >= (metadata["generation"] as? Int ?? 1),
        sourceLocation: sourceLocation)
      #expect(
        status["updatedReplicas"] as? Int == spec["replicas"] as? Int, "\(name) rolled out",
        sourceLocation: sourceLocation)
    }

    let redis = try stack.redisConnection()
    #expect(try redis.countKeys(pattern: "sess:*") == 0, sourceLocation: sourceLocation)
    #expect(try redis.countKeys(pattern: "cache:page:*") == 250, sourceLocation: sourceLocation)
    #expect(try redis.countKeys(pattern: "queue:mail:*") == 250, sourceLocation: sourceLocation)

    for path in [
      "secret/lockstep/locks/aura/production", "secret/lockstep/staging/aura/production",
    ] {
      await #expect(throws: VaultError.self, "\(path) removed", sourceLocation: sourceLocation) {
        try await stack.vaultClient.read(path)
      }
    }
    let verify = try await stack.run(
      "evidence", "verify", stack.directory + "/evidence", "--key",
      stack.directory + "/signing.key.pub")
    #expect(
      verify.status == 0, "evidence verifies: \(verify.stderrText)", sourceLocation: sourceLocation)
  }

  /// The new values must appear nowhere but in Vault, the Secret and PostgreSQL's verifier.
  /// With a `monitor`, what Redis showed a `MONITOR` client is checked too.
  func expectNoLeak(
    _ stack: RotationStack, outputs: [ChildProcess.Result], alsoRotated: [String] = [],
    monitor: RedisMonitor? = nil, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    let monitored = monitor?.text ?? ""
    if monitor != nil {
      #expect(
        monitored.contains("\"AUTH\" \"(redacted)\" \"(redacted)\""),
        "MONITOR saw the verifying logins, redacted",
        sourceLocation: sourceLocation)
    }
    let live = try await stack.liveSecret()
    let kubectlLog = (try? String(contentsOfFile: stack.kubectlLog, encoding: .utf8)) ?? ""
    #expect(
      kubectlLog.contains("ARGV "), "the kubectl wrapper saw the children",
      sourceLocation: sourceLocation)
    let recorded = try stack.recordedFiles()
    let serverLog = stack.postgresServerLog
    #expect(
      serverLog.contains("ALTER ROLE"), "the server log records statements",
      sourceLocation: sourceLocation)
    for key in Self.rotated + alsoRotated {
      let value = try #require(live.data[key]?.unsafeUTF8String())
      #expect(
        !monitored.contains(value), "\(key) in Redis MONITOR output",
        sourceLocation: sourceLocation)
      #expect(
        !kubectlLog.contains(value), "\(key) in a kubectl argv or environment",
        sourceLocation: sourceLocation)
      #expect(
        !recorded.contains(value), "\(key) in the evidence or journal",
        sourceLocation: sourceLocation)
      #expect(
        !serverLog.contains(value), "\(key) in the PostgreSQL log", sourceLocation: sourceLocation)
      for output in outputs {
        #expect(
          !output.stdoutText.contains(value) && !output.stderrText.contains(value),
          "\(key) in output", sourceLocation: sourceLocation)
      }
    }
  }
}

/// The compromise rotation end to end: the built binary against real OpenBao, PostgreSQL,
/// Redis and kubectl + the Kubernetes stand-in. Serialized: each test drives a whole stack
/// and the machine has two cores.
@Suite(.serialized) struct RotationEndToEndTests: RotationStackSuite {
  @Test func aFullRotationRotatesEverythingAndLeaksNothing() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    // The attacker's session, opened with the stolen password before the response.
    var attackerConfiguration = stack.postgresConfiguration()
    attackerConfiguration.parameters["user"] = "aura"
    attackerConfiguration.password = oldPassword
    let attacker = try PostgresConnection(attackerConfiguration)
    #expect(try attacker.query("SELECT count(*) AS n FROM identity").first?.int("n") == 100)

    let plan = try await stack.rotate("plan")
    #expect(plan.status == 0)
    #expect(plan.stdoutText.contains("SMTP_PASSWORD"))
    #expect(plan.stdoutText.contains("MINIO_ACCESS_KEY"))
    #expect(!plan.stdoutText.contains("unaccounted"))
    #expect(try await stack.liveSecret().version == before.version, "plan writes nothing")

    let run = try await stack.rotate("run")
    #expect(run.status == 0, "rotate run: \(run.stderrText)")
    #expect(run.stdoutText.contains("1000 sessions removed"))
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
    #expect(throws: PostgresError.self, "the attacker's connection is gone") {
      try attacker.query("SELECT 1")
    }
    try await expectNoLeak(stack, outputs: [plan, run])

    let evidence = try stack.recordedFiles()
    #expect(evidence.contains("\"sessions_terminated\":1"), "the attacker's backend was terminated")
    #expect(evidence.contains("\"removed\":1000"))
    #expect(evidence.contains("aura-api.log\":2"), "the log scan counted both unauthorized lines")
    let status = try await stack.rotate("status")
    #expect(status.stdoutText.contains("no rotation in progress"))
  }

  /// Preflight: a token that may read but not update the live secret must stop the run
  /// before PostgreSQL is touched, or the system would be left half-rotated at promote.
  @Test func aMissingVaultRightStopsTheRunBeforeAnyChange() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let rules = try String(
      contentsOfFile: Repository.root + "/policies/vault/lockstep-rotate.hcl", encoding: .utf8
    ).replacingOccurrences(
      of: #"capabilities = ["read", "update"]"#, with: #"capabilities = ["read"]"#)
    let weak = try VaultTesting(stack.vault).token(policy: "weak-rotate", rules: rules)
    let run = try await stack.rotate("run", environment: ["VAULT_TOKEN": weak.unsafeUTF8String()!])
    #expect(run.status == 1)
    #expect(run.stderrText.contains("preflight failed, nothing was changed"))
    #expect(run.stderrText.contains("may not update secret/data/aura/production"))
    #expect(try stack.login(oldPassword) == .accepted, "PostgreSQL untouched")
    #expect(try await stack.liveSecret().version == before.version)
    #expect((try await stack.rotate("status")).stdoutText.contains("no rotation in progress"))
  }

  /// Every step boundary: the process dies (SIGKILL through the fault switch) before or
  /// after the step's side effects, then `rotate resume` must reach the same end state.
  @Test func everyStepBoundarySurvivesACrash() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let steps = ["lock", "stage", "apply", "verify", "promote", "deploy", "invalidate", "finish"]
    for step in steps {
      for when in ["before", "after"] {
        try? FileManager.default.removeItem(atPath: stack.directory + "/evidence")
        let oldPassword = try await stack.seed()
        let before = try await stack.liveSecret()
        let crashed = try await stack.rotate(
          "run", environment: ["LOCKSTEP_FAULT": "\(step):\(when)"])
        #expect(
          crashed.status == 128 + 9, "\(step):\(when) killed the process (status \(crashed.status))"
        )
        let resumed = try await stack.rotate("resume")
        if step == "lock" && when == "before" {
          #expect(resumed.status == 1 && resumed.stderrText.contains("no rotation to resume"))
          let fresh = try await stack.rotate("run")
          #expect(fresh.status == 0, "\(fresh.stderrText)")
        } else if step == "finish" && when == "after" {
          #expect(resumed.status == 1 && resumed.stderrText.contains("no rotation to resume"))
        } else {
          #expect(resumed.status == 0, "resume after \(step):\(when): \(resumed.stderrText)")
        }
        try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
        try await expectNoLeak(stack, outputs: [crashed, resumed])
      }
    }
  }

  /// A real `kill -9` from outside at moments that fall inside different steps.
  @Test(arguments: [60, 250, 600])
  func anOutsideKillIsResumable(milliseconds: Int) async throws {
    let stack = try await onDedicatedThread { try RotationStack(rolloutDelayMilliseconds: 400) }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let killer = try await ChildProcess.runDetached(
      "bash",
      [
        "-c",
        "\"$@\" & pid=$!; sleep \(Double(milliseconds) / 1000); kill -KILL $pid; wait $pid; echo status=$?",
        "run", Repository.lockstepBinary, "rotate", "run", "--yes", "--policy", stack.policyPath,
        "--signing-key", stack.directory + "/signing.key", "--evidence-dir",
        stack.directory + "/evidence", "--state-dir", stack.directory + "/state",
      ], environment: stack.environment.merging(["VAULT_TOKEN": stack.rotateToken]) { $1 },
      timeout: .seconds(60), directory: stack.directory)
    #expect(killer.stdoutText.contains("status="))
    var finished = try await stack.rotate("resume")
    if finished.status != 0 && finished.stderrText.contains("no rotation to resume") {
      // Killed before the lock was taken, or after it was released.
      if try await stack.liveSecret().version == before.version {
        finished = try await stack.rotate("run")
      }
    }
    #expect(
      finished.status == 0 || finished.stderrText.contains("no rotation to resume"),
      "after a kill at \(milliseconds) ms: \(finished.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }

  @Test func aSecondRotationIsRefusedWhileOneHoldsTheLock() async throws {
    let stack = try await onDedicatedThread { try RotationStack(rolloutDelayMilliseconds: 4000) }
    try await stack.seed()
    let background = try await ChildProcess.runDetached(
      "bash",
      [
        "-c", "setsid \"$@\" > first.out 2>&1 & echo $!", "run", Repository.lockstepBinary,
        "rotate", "run", "--yes", "--policy", stack.policyPath, "--signing-key",
        stack.directory + "/signing.key", "--evidence-dir", stack.directory + "/evidence",
        "--state-dir", stack.directory + "/state",
      ], environment: stack.environment.merging(["VAULT_TOKEN": stack.rotateToken]) { $1 },
      timeout: .seconds(10), directory: stack.directory)
    #expect(background.succeeded)
    var held = false
    for _ in 0..<100 where !held {
      held = (try await stack.rotate("status")).stdoutText.contains("in progress:")
      if !held { try await Task.sleep(for: .milliseconds(50)) }
    }
    #expect(held, "the first rotation took the lock")
    let second = try await stack.rotate("run")
    #expect(second.status == 75)
    #expect(second.stderrText.contains("holds the lock"))
    #expect(second.stderrText.contains("on host"))
    var done = false
    for _ in 0..<300 where !done {
      done = (try await stack.rotate("status")).stdoutText.contains("no rotation in progress")
      if !done { try await Task.sleep(for: .milliseconds(100)) }
    }
    #expect(done, "the first rotation finished")
    let first = try String(contentsOfFile: stack.directory + "/first.out", encoding: .utf8)
    #expect(first.contains("complete in"), "the first rotation completed: \(first)")
  }
}
