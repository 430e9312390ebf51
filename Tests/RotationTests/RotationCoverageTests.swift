import Foundation
import LockstepCore
import Postgres
import TestSupport
import Testing
import Vault

/// Issue 17 §9: behaviour that had no test — own login refused, --json, --rebase,
/// --force-unlock and the expired lock, mode env, flush_database, and Ctrl-C.

extension RotationStackSuite {
  /// Rewrites the held lock as if another host held it, expiring at `expires`.
  func moveLock(_ stack: RotationStack, expires: Date) async throws {
    let lock = try await stack.vaultClient.read("secret/lockstep/locks/aura/production")
    var values = SecretMap()
    for (key, value) in lock.data { values[key] = value }
    values["host"] = SecretBytes(utf8: "ops-elsewhere")
    values["expires_at"] = SecretBytes(utf8: ISO8601DateFormatter().string(from: expires))
    _ = try await stack.vaultClient.write("secret/lockstep/locks/aura/production", values)
  }
}

@Suite(.serialized) struct RotationCoverageTests: RotationStackSuite {
  @Test func runRefusesToRotateLockstepsOwnLogin() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let own = try variant(stack, "role: aura\n", "role: postgres\n", name: "own.yaml")
    let run = try await stack.rotate("run", policy: own)
    #expect(run.status == 1)
    #expect(
      run.stderrText.contains("the credential Lockstep itself uses (PostgreSQL role postgres)"))
    #expect(try stack.login(oldPassword) == .accepted)
  }

  @Test func runAndStatusSpeakJSON() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    let run = try await stack.rotate("run", ["--json"])
    #expect(run.status == 0, "\(run.stderrText)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout)) as? [String: Any])
    #expect((object["rotation_id"] as? String)?.count == 36)
    #expect(object["sessions_removed"] as? Int == 1000)
    let steps = (object["steps"] as? [[String: Any]] ?? []).compactMap { $0["step"] as? String }
    #expect(
      steps == ["lock", "stage", "apply", "verify", "promote", "deploy", "invalidate", "finish"])
    let status = try await stack.rotate("status", ["--json"])
    let state = try #require(
      try JSONSerialization.jsonObject(with: Data(status.stdout)) as? [String: Any])
    #expect(state["in_progress"] as? Bool == false)
  }

  @Test func aChangedLiveSecretStopsPromoteAndRebaseKeepsTheChange() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "promote:before"])
    #expect(crashed.status == 128 + 9)
    var change = SecretMap()
    change["MINIO_ENDPOINT"] = SecretBytes(utf8: "http://minio.example:9000")
    _ = try await stack.vaultClient.patch("secret/aura/production", change)
    let refused = try await stack.rotate("resume")
    #expect(refused.status == 75, "\(refused.stderrText)")
    #expect(refused.stderrText.contains("rotate resume --rebase"))
    let rebased = try await stack.rotate("resume", ["--rebase"])
    #expect(rebased.status == 0, "\(rebased.stderrText)")
    let live = try await stack.liveSecret()
    #expect(live.data["MINIO_ENDPOINT"]?.unsafeUTF8String() == "http://minio.example:9000")
    let password = try #require(live.data["DATABASE_PASSWORD"])
    #expect(try stack.login(password) == .accepted)
  }

  @Test func aLockElsewhereNeedsForceUnlockUntilItExpires() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "apply:after"])
    #expect(crashed.status == 128 + 9)
    try await moveLock(stack, expires: Date().addingTimeInterval(3600))
    let held = try await stack.rotate("resume")
    #expect(held.status == 75)
    #expect(held.stderrText.contains("on host ops-elsewhere"))
    try await moveLock(stack, expires: Date().addingTimeInterval(-60))
    let run = try await stack.rotate("run")
    #expect(run.status == 75)
    #expect(run.stderrText.contains("has expired"))
    try await moveLock(stack, expires: Date().addingTimeInterval(3600))
    let forced = try await stack.rotate("resume", ["--force-unlock"])
    #expect(forced.status == 0, "\(forced.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }

  @Test func anExpiredLockIsTakenOverByResume() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "stage:after"])
    #expect(crashed.status == 128 + 9)
    try await moveLock(stack, expires: Date().addingTimeInterval(-60))
    let resumed = try await stack.rotate("resume")
    #expect(resumed.status == 0, "\(resumed.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }

  @Test func modeEnvAndFlushDatabaseInsideARotation() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    let text = try String(contentsOfFile: stack.policyPath, encoding: .utf8)
    let env = text.replacingOccurrences(
      of:
        "deployment: aura-api\n      namespace: default\n      mode: secret\n      secret: aura-secrets",
      with: "deployment: aura-api\n      namespace: default\n      mode: env\n      container: api"
    ).replacingOccurrences(
      of:
        "pattern: \"sess:*\"                     # sessions only; FLUSHDB wiped every key\n      batch: 1000",
      with: "flush_database: true")
    #expect(env.contains("mode: env") && env.contains("flush_database: true"))
    let path = stack.directory + "/env.yaml"
    try env.write(toFile: path, atomically: true, encoding: .utf8)
    let run = try await stack.rotate("run", policy: path)
    #expect(run.status == 0, "\(run.stderrText)")
    let deployment = try await stack.kubectlJSON("deployment", "aura-api")
    let spec = (deployment["spec"] as? [String: Any])?["template"] as? [String: Any]
    let containers = (spec?["spec"] as? [String: Any])?["containers"] as? [[String: Any]] ?? []
    let names = Set(
      (containers.first?["env"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
    #expect(names.isSuperset(of: ["SESSION_SECRET", "IRON_SESSION_PASSWORD", "DATABASE_URL"]))
    let redis = try stack.redisConnection()
    #expect(try redis.countKeys(pattern: "*") == 0, "flush_database removed every key")
    let evidence = try stack.recordedFiles()
    #expect(evidence.contains("\"flushed\":true"))
  }

  @Test func ctrlCStopsAtAStepBoundaryWithTheResumeCommand() async throws {
    let stack = try await onDedicatedThread { try RotationStack(rolloutDelayMilliseconds: 3000) }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    // Start the run, wait until stage is recorded in the lock, then Ctrl-C it.
    let result = try await ChildProcess.runDetached(
      "bash",
      [
        "-c",
        "\"$0\" \"$@\" 2>err.out >/dev/null & pid=$!; "
          + "for i in $(seq 300); do sleep 0.1; "
          + "\"$0\" rotate status --policy \"$4\" 2>/dev/null | grep -q 'done: lock, stage' && break; done; "
          + "kill -INT $pid; wait $pid; echo status=$?",
        Repository.lockstepBinary, "rotate", "run", "--policy", stack.policyPath, "--yes",
        "--signing-key", stack.directory + "/signing.key", "--evidence-dir",
        stack.directory + "/evidence", "--state-dir", stack.directory + "/state",
      ], environment: stack.environment.merging(["VAULT_TOKEN": stack.rotateToken]) { $1 },
      timeout: .seconds(90), directory: stack.directory)
    let stderr = (try? String(contentsOfFile: stack.directory + "/err.out", encoding: .utf8)) ?? ""
    #expect(result.stdoutText.contains("status=75"), "\(result.stdoutText) \(stderr)")
    #expect(stderr.contains("stopped by SIGINT before"), "\(stderr)")
    #expect(
      stderr.contains(
        "continue with: lockstep rotate resume --policy \(stack.policyPath) --signing-key"),
      "\(stderr)")
    #expect(try await stack.rotate("status").stdoutText.contains("in progress"))
    let resumed = try await stack.rotate("resume")
    #expect(resumed.status == 0, "\(resumed.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }

  /// Issue 11: rotate checks what doctor checks. A CREATEROLE login without
  /// pg_signal_backend, and (on libpq 15) without read access to pg_hba_file_rules, stops at
  /// preflight with both reasons; granting them lets the same run through.
  @Test func aNonSuperuserLoginIsToldWhatItLacks() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let admin = try stack.adminConnection(database: "postgres")
    defer { admin.close() }
    try admin.query("DROP ROLE IF EXISTS rotator")
    try admin.query("CREATE ROLE rotator LOGIN CREATEROLE")
    let password = SecretBytes(utf8: "Rotator-\(UUID().uuidString)")
    try admin.setPassword(role: "rotator", secret: password)
    let pgpass = stack.directory + "/pgpass"
    let entries = try String(contentsOfFile: pgpass, encoding: .utf8)
    try (entries + "127.0.0.1:\(stack.postgres.port):*:rotator:\(password.unsafeUTF8String()!)\n")
      .write(toFile: pgpass, atomically: false, encoding: .utf8)
    let refused = try await stack.rotate("run", environment: ["PGUSER": "rotator"])
    #expect(refused.status == 1, "\(refused.stderrText)")
    #expect(refused.stderrText.contains("grant it pg_signal_backend"), "\(refused.stderrText)")
    if PostgresConnection.libpqVersion < 160_000 {
      #expect(refused.stderrText.contains("GRANT SELECT ON pg_hba_file_rules"))
    }
    let doctor = try await stack.run(
      "doctor", "--policy", stack.policyPath, "--timeout", "30",
      extraEnvironment: ["PGUSER": "rotator"])
    #expect(doctor.stderrText.contains("pg_signal_backend"), "doctor says the same")
    #expect(try stack.login(oldPassword) == .accepted)
    try admin.query("GRANT pg_signal_backend TO rotator")
    try admin.query("GRANT SELECT ON pg_hba_file_rules TO rotator")
    try admin.query("GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO rotator")
    let run = try await stack.rotate("run", environment: ["PGUSER": "rotator"])
    #expect(run.status == 0, "\(run.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }
}
