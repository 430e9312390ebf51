import Foundation
import LockstepCore
import TestSupport
import Testing

/// Issue 17, two mistakes at 3 a.m. through the built binary on the real stack: a pg_hba
/// `trust` line that keeps the old password (and any other) logging in after `ALTER ROLE`,
/// and a workload that stopped reading the Secret while the rotation ran. Both used to end
/// in "complete", exit 0.

extension RotationStackSuite {
  /// A PostgreSQL startup from `source` (a loopback address other than 127.0.0.1, standing
  /// in for another host of the network) as `role`, sending no password: true when the
  /// server answers AuthenticationOk at once.
  func logsInWithoutPassword(
    _ stack: RotationStack, role: String, from source: String
  ) async throws -> Bool {
    let script = """
      import socket, struct, sys
      port, role, source = int(sys.argv[1]), sys.argv[2], sys.argv[3]
      s = socket.socket()
      s.bind((source, 0))
      s.connect(("127.0.0.1", port))
      body = struct.pack("!i", 196608) + b"user\\0" + role.encode() + b"\\0database\\0aura_sign\\0\\0"
      s.sendall(struct.pack("!i", len(body) + 4) + body)
      kind = s.recv(1)
      length = struct.unpack("!i", s.recv(4))[0]
      code = struct.unpack("!i", s.recv(4))[0] if kind == b"R" else -1
      sys.exit(0 if kind == b"R" and code == 0 else 3)
      """
    let result = try await ChildProcess.runDetached(
      "python3", ["-c", script, String(stack.postgres.port), role, source],
      environment: stack.environment, timeout: .seconds(20))
    return result.status == 0
  }
}

extension RotationHostileTests {
  /// The line operators write for "the app network is trusted": from there the leaked
  /// password keeps working after any rotation, so the rotation must not claim the old
  /// password is refused. It stops before any change, and doctor says the same.
  @Test func aTrustLineThatKeepsTheOldPasswordWorkingStopsTheRotation() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    // Line 1 for another host; 127.0.0.1 (Lockstep's own path) still meets scram-sha-256.
    try addHBALine(stack, "host all aura 127.0.0.2/32 trust")
    #expect(
      try await logsInWithoutPassword(stack, role: "aura", from: "127.0.0.2"),
      "the trust line lets role aura in without any password")

    let run = try await stack.rotate("run")
    #expect(run.status == 1, "\(run.status) \(run.stdoutText) \(run.stderrText)")
    #expect(run.stderrText.contains("preflight failed, nothing was changed"), "\(run.stderrText)")
    #expect(run.stderrText.contains("pg_hba.conf line 1"), "\(run.stderrText)")
    #expect(run.stderrText.contains("127.0.0.2/32"), "\(run.stderrText)")
    #expect(run.stderrText.contains("trust"), "\(run.stderrText)")
    #expect(run.stderrText.contains("old password"), "\(run.stderrText)")
    #expect(run.stderrText.split(separator: "\n").count == 1, "one sentence: \(run.stderrText)")
    #expect(!run.stdoutText.contains("complete"))
    #expect(try stack.login(oldPassword) == .accepted, "PostgreSQL untouched")
    #expect(try await stack.liveSecret().version == before.version, "Vault untouched")
    #expect((try await stack.rotate("status")).stdoutText.contains("no rotation in progress"))

    let doctor = try await stack.run("doctor", "--policy", stack.policyPath, "--timeout", "30")
    #expect(doctor.status == 1, "\(doctor.stdoutText)")
    #expect(
      (doctor.stdoutText + doctor.stderrText).contains("127.0.0.2/32"), "\(doctor.stdoutText)")
  }

  /// The same line added during the incident (the application cannot log in between apply
  /// and promote, and someone "fixes" it with trust): resume stops with the reason, the
  /// rotation stays resumable (the live secret unpromoted), and once the line is gone it
  /// finishes.
  @Test func aTrustLineAddedMidRotationStopsTheResumeUntilRemoved() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "apply:after"])
    #expect(crashed.status == 128 + 9)
    let path = stack.postgres.directory + "/pg/data/pg_hba.conf"
    let original = try String(contentsOfFile: path, encoding: .utf8)
    try addHBALine(stack, "host all aura 127.0.0.2/32 trust")
    let resumed = try await stack.rotate("resume")
    #expect(resumed.status == 1, "\(resumed.status) \(resumed.stderrText)")
    #expect(resumed.stderrText.contains("pg_hba.conf line 1"), "\(resumed.stderrText)")
    #expect(resumed.stderrText.contains("lockstep rotate resume"), "\(resumed.stderrText)")
    #expect(!resumed.stderrText.contains("nothing was changed"), "apply did change the password")
    #expect(try await stack.liveSecret().version == before.version, "not promoted")
    let status = try await stack.rotate("status")
    #expect(status.stdoutText.contains("lockstep rotate resume"), "\(status.stdoutText)")

    try original.write(toFile: path, atomically: false, encoding: .utf8)
    let admin = try stack.adminConnection(database: "postgres")
    try admin.query("SELECT pg_reload_conf()")
    admin.close()
    let finished = try await stack.rotate("resume")
    #expect(finished.status == 0, "\(finished.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }

  /// The shipped policy scans /var/log/aura-api.log, which the local stack lacks (as in
  /// docs/journeys.md): the notice must say the file was not scanned, not print
  /// "not readable matching line(s)" to customers.
  @Test func aLogThatCannotBeReadIsSaidPlainlyInTheNotice() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    let missing = try variant(
      stack, stack.directory + "/aura-api.log", stack.directory + "/missing.log",
      name: "missing-log.yaml")
    let run = try await stack.rotate("run", policy: missing)
    #expect(run.status == 0, "\(run.stderrText)")
    let evidence = stack.directory + "/evidence"
    let file = evidence + "/" + (try FileManager.default.contentsOfDirectory(atPath: evidence))[0]
    let notice = try await stack.run(
      "evidence", "report", file, "--template",
      Repository.root + "/templates/notices/resolved.md")
    #expect(notice.status == 0, "\(notice.stderrText)")
    #expect(
      notice.stdoutText.contains("missing.log: not scanned, the file could not be read"),
      "\(notice.stdoutText)")
    #expect(!notice.stdoutText.contains("not readable matching"))
  }

  /// A trust line that an earlier line already answers for the same hosts is never reached:
  /// no false alarm, the rotation runs.
  @Test func aTrustLineShadowedByAnEarlierLineIsNoObstacle() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let path = stack.postgres.directory + "/pg/data/pg_hba.conf"
    let original = try String(contentsOfFile: path, encoding: .utf8)
    try (original + "\nhost all aura 127.0.0.2/32 trust\n").write(
      toFile: path, atomically: false, encoding: .utf8)
    // Line 1 answers every loopback host with scram-sha-256 (and reloads the file).
    try addHBALine(stack, "host all all 127.0.0.0/8 scram-sha-256")
    #expect(!(try await logsInWithoutPassword(stack, role: "aura", from: "127.0.0.2")))
    let run = try await stack.rotate("run")
    #expect(run.status == 0, "\(run.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }

  /// Someone applies a manifest without the `envFrom` while the rotation rolls out the
  /// first deployment: the second one restarts on a template that no longer reads the
  /// Secret. The run must say so (verification failed, exit 2), not print `✔ deploy`; once
  /// the reference is back, resume finishes.
  @Test func aWorkloadThatStoppedReadingTheSecretFailsTheDeploy() async throws {
    let stack = try await onDedicatedThread { try RotationStack(rolloutDelayMilliseconds: 3000) }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let run = Task { try await stack.rotate("run") }
    var patched = false
    for _ in 0..<300 where !patched {
      try await Task.sleep(for: .milliseconds(100))
      let api = try await stack.kubectlJSON("deployment", "aura-api")
      let template = (api["spec"] as? [String: Any])?["template"] as? [String: Any]
      let annotations = (template?["metadata"] as? [String: Any])?["annotations"] as? [String: Any]
      guard annotations?["kubectl.kubernetes.io/restartedAt"] != nil else { continue }
      let removed = try await ChildProcess.runDetached(
        "kubectl",
        [
          "patch", "deployment", "aura-worker", "--type=json", "-p",
          #"[{"op":"remove","path":"/spec/template/spec/containers/0/envFrom"}]"#,
        ], environment: stack.environment, timeout: .seconds(30))
      #expect(removed.succeeded, "\(removed.stderrText)")
      patched = true
    }
    #expect(patched, "aura-api was restarted")
    let result = try await run.value
    #expect(result.status == 2, "\(result.status) \(result.stdoutText) \(result.stderrText)")
    #expect(
      result.stderrText.contains(
        "deployment default/aura-worker restarted, but its pods do not read Secret aura-secrets"),
      "\(result.stderrText)")
    #expect(!result.stdoutText.contains("✔ deploy"), "\(result.stdoutText)")
    #expect(!result.stdoutText.contains("complete"))
    let status = try await stack.rotate("status")
    #expect(status.stdoutText.contains("lockstep rotate resume"), "\(status.stdoutText)")

    let restored = try await ChildProcess.runDetached(
      "kubectl",
      [
        "patch", "deployment", "aura-worker", "--type=json", "-p",
        #"[{"op":"add","path":"/spec/template/spec/containers/0/envFrom","value":[{"secretRef":{"name":"aura-secrets"}}]}]"#,
      ], environment: stack.environment, timeout: .seconds(30))
    #expect(restored.succeeded, "\(restored.stderrText)")
    let resumed = try await stack.rotate("resume")
    #expect(resumed.status == 0, "\(resumed.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }
}
