import Foundation
import LockstepCore
import Postgres
import TestSupport
import Testing
import Vault

/// Issue 11 and 17 against the real stack: a planted lock record, a server that asks for the
/// password in clear, a pg_hba `reject` line, a typo'd Secret or role. Each must end in one
/// sentence with nothing changed. In the serialized end-to-end suite (one stack at a time).

extension RotationStackSuite {
  /// Writes `values` at the lock path with the root token, as an attacker with write access
  /// to `secret/lockstep/locks/…` could.
  func plantLock(_ stack: RotationStack, _ fields: [String: String]) async throws {
    var values = SecretMap()
    for (key, value) in fields { values[key] = SecretBytes(utf8: value) }
    _ = try await stack.vaultClient.write("secret/lockstep/locks/aura/production", values)
  }

  func plantedRecord(_ overrides: [String: String]) -> [String: String] {
    let now = Date()
    let format = ISO8601DateFormatter()
    return [
      "rotation_id": UUID().uuidString.lowercased(), "owner": "mallory", "host": "elsewhere",
      "pid": "4242", "started_at": format.string(from: now.addingTimeInterval(-7200)),
      "expires_at": format.string(from: now.addingTimeInterval(-3600)), "steps": "lock",
    ].merging(overrides) { $1 }
  }

  // MARK: PostgreSQL: cleartext and reject

  /// Prepends `line` to the test cluster's pg_hba.conf and reloads it.
  func addHBALine(_ stack: RotationStack, _ line: String) throws {
    let path = stack.postgres.directory + "/pg/data/pg_hba.conf"
    let original = try String(contentsOfFile: path, encoding: .utf8)
    try (line + "\n" + original).write(toFile: path, atomically: false, encoding: .utf8)
    let admin = try stack.adminConnection(database: "postgres")
    defer { admin.close() }
    try admin.query("SELECT pg_reload_conf()")
  }

  /// A relay in front of PostgreSQL that records every byte the client sends.
  func startRelay(_ stack: RotationStack) async throws -> (port: Int, log: String, pid: String) {
    let port = FreePort.next()
    let log = stack.directory + "/relay.bin"
    let script = stack.directory + "/relay.py"
    try """
    import socket, sys, threading
    listen, target, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    out = open(log, "ab", buffering=0)
    lock = threading.Lock()
    def pump(src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    with lock:
                        out.write(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen))
    server.listen(64)
    while True:
        client, _ = server.accept()
        upstream = socket.create_connection(("127.0.0.1", target))
        threading.Thread(target=pump, args=(client, upstream, True), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()

    """.write(toFile: script, atomically: true, encoding: .utf8)
    let started = try await ChildProcess.runDetached(
      "bash",
      [
        "-c", "setsid python3 \"$@\" >/dev/null 2>&1 & echo $!", "relay", script, String(port),
        String(stack.postgres.port), log,
      ], environment: stack.environment, timeout: .seconds(10))
    let ready = try await ChildProcess.runDetached(
      "bash",
      [
        "-c",
        "for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && exit 0; sleep 0.1; done; exit 1",
        "wait", String(port),
      ], environment: stack.environment, timeout: .seconds(20))
    #expect(ready.succeeded, "the relay listens")
    return (port, log, started.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))
  }
}

@Suite(.serialized) struct RotationHostileTests: RotationStackSuite {
  @Test func aPlantedLockRecordNeverChoosesALocalPath() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    var oldPassword = try await stack.seed()
    var before = try await stack.liveSecret()
    let target = stack.directory + "/outside/etc/ld.so.preload"
    for (name, overrides) in [
      ("traversal id", ["rotation_id": "../../outside/etc/ld.so.preload"]),
      ("absolute evidence", ["evidence": target, "evidence_chain": ""]),
      ("arbitrary steps", ["steps": "lock,stage,apply,verify,promote,rm -rf /"]),
      ("skipped steps", ["steps": "lock,promote"]),
    ] {
      try await plantLock(stack, plantedRecord(overrides))
      let resumed = try await stack.rotate("resume")
      if name == "absolute evidence" {
        // The planted path is ignored: the evidence goes to --evidence-dir only.
        #expect(resumed.status == 0, "\(name): \(resumed.stderrText)")
        oldPassword = try await stack.seed()
        before = try await stack.liveSecret()
      } else {
        #expect(resumed.status == 65, "\(name): \(resumed.status) \(resumed.stderrText)")
        #expect(resumed.stderrText.contains("is not trusted, nothing was changed"), "\(name)")
        #expect(!resumed.stderrText.contains("rm -rf"), "the planted text is not echoed")
        #expect(try stack.login(oldPassword) == .accepted, "\(name): PostgreSQL untouched")
        #expect(try await stack.liveSecret().version == before.version, "\(name)")
      }
      #expect(!FileManager.default.fileExists(atPath: stack.directory + "/outside"), "\(name)")
      let status = try await stack.rotate("status")
      #expect(status.status == 0)
      _ = try? await stack.vaultClient.deleteAllVersions("secret/lockstep/locks/aura/production")
    }
    let journals =
      (try? FileManager.default.contentsOfDirectory(atPath: stack.directory + "/state")) ?? []
    #expect(journals.allSatisfy { $0.hasSuffix(".journal.jsonl") && !$0.contains("..") })
  }

  /// A lock that claims steps that never happened: the claims are checked, not believed.
  @Test func aLockClaimingUnfinishedStepsIsCheckedAndRedone() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "apply:before"])
    #expect(crashed.status == 128 + 9)
    // Someone edits the record to claim apply, verify and promote are done.
    let lock = try await stack.vaultClient.read("secret/lockstep/locks/aura/production")
    var values = SecretMap()
    for (key, value) in lock.data { values[key] = value }
    values["steps"] = SecretBytes(utf8: "lock,stage,apply,verify,promote")
    _ = try await stack.vaultClient.write("secret/lockstep/locks/aura/production", values)
    let resumed = try await stack.rotate("resume")
    #expect(resumed.status == 0, "\(resumed.stderrText)")
    #expect(resumed.stdoutText.contains("not confirmed"), "\(resumed.stdoutText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }

  @Test func resumeNeedsConfirmationAndShowsTheHolder() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "stage:after"])
    #expect(crashed.status == 128 + 9)
    let unconfirmed = try await stack.run(
      "rotate", "resume", "--policy", stack.policyPath, "--signing-key",
      stack.directory + "/signing.key", extraEnvironment: ["VAULT_TOKEN": stack.rotateToken])
    #expect(unconfirmed.status == 64, "\(unconfirmed.stderrText)")
    #expect(unconfirmed.stderrText.contains("pass --yes"))
    #expect(try stack.login(oldPassword) == .accepted)
    let status = try await stack.rotate("status")
    #expect(status.stdoutText.contains("finish it with: lockstep rotate resume --policy"))
    #expect(status.stdoutText.contains("--signing-key \(stack.directory)/signing.key"))
    #expect(status.stdoutText.contains("evidence signing key: lockstepsig1"))
    let json = try await stack.rotate("status", ["--json"])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any]
    #expect(object?["in_progress"] as? Bool == true)
    #expect((object?["resume_command"] as? String)?.contains("--signing-key") == true)
    let resumed = try await stack.rotate("resume")
    #expect(resumed.status == 0)
    #expect(resumed.stderrText.contains("resuming rotation"))
  }

  /// The lock's expiry is renewed while the run is alive, so a slow rollout does not make
  /// it adoptable by `resume` elsewhere. A 15 s TTL (a heartbeat every 5 s) over a deploy of
  /// at least 10 s: two renewals, with 10 s of slack for a heartbeat a loaded host delays
  /// (a 3 s TTL left 2 s, which a CI host with a CPU hog outran).
  @Test func aLongRunKeepsItsLockAlive() async throws {
    let stack = try await onDedicatedThread { try RotationStack(rolloutDelayMilliseconds: 5000) }
    try await stack.seed()
    let policy = try String(contentsOfFile: stack.policyPath, encoding: .utf8)
      .replacingOccurrences(of: "lock_ttl: 1h", with: "lock_ttl: 15s")
    let short = stack.directory + "/short-ttl.yaml"
    try policy.write(toFile: short, atomically: true, encoding: .utf8)
    let run = Task { try await stack.rotate("run", policy: short) }
    var expiries: [String] = []
    for _ in 0..<60 {
      try await Task.sleep(for: .milliseconds(250))
      if let lock = try? await stack.vaultClient.read("secret/lockstep/locks/aura/production"),
        let expiry = lock.data["expires_at"]?.unsafeUTF8String()
      {
        if expiries.last != expiry { expiries.append(expiry) }
        let date = ISO8601DateFormatter().date(from: expiry) ?? .distantPast
        #expect(date > Date().addingTimeInterval(-1), "the live run's lock has expired")
      }
    }
    #expect(expiries.count >= 2, "the expiry was renewed: \(expiries)")
    let result = try await run.value
    #expect(result.status == 0, "\(result.stderrText)")
  }

  @Test func aServerAskingForTheNewPasswordInClearNeverGetsIt() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    try addHBALine(stack, "host all aura 127.0.0.1/32 password")
    let relay = try await startRelay(stack)
    defer { _ = kill(pid_t(relay.pid) ?? 0, SIGKILL) }
    let pgpass = stack.directory + "/pgpass"
    let entries = try String(contentsOfFile: pgpass, encoding: .utf8)
    try (entries + "127.0.0.1:\(relay.port):*:postgres:\(stack.postgres.password!)\n").write(
      toFile: pgpass, atomically: false, encoding: .utf8)
    let run = try await stack.rotate("run", environment: ["PGPORT": String(relay.port)])
    #expect(run.status == 1, "\(run.stderrText)")
    #expect(run.stderrText.contains("preflight failed, nothing was changed"))
    #expect(run.stderrText.contains("in clear"), "\(run.stderrText)")
    let sent = (try? Data(contentsOf: URL(fileURLWithPath: relay.log))) ?? Data()
    #expect(!sent.isEmpty, "the relay saw the connection")
    let live = try await stack.liveSecret()
    for value in [oldPassword, try #require(live.data["DATABASE_PASSWORD"])] {
      let bytes = Data(value.unsafeUTF8String()!.utf8)
      #expect(sent.range(of: bytes) == nil, "a password crossed the relay in clear")
    }
    #expect(live.version == before.version)
    #expect((try await stack.rotate("status")).stdoutText.contains("no rotation in progress"))
  }

  @Test func aRejectLineStopsTheRunBeforeAnyChange() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    try addHBALine(stack, "host all aura 127.0.0.1/32 reject")
    let run = try await stack.rotate("run")
    #expect(run.status == 1, "\(run.stderrText)")
    #expect(run.stderrText.contains("preflight failed, nothing was changed"))
    #expect(run.stderrText.contains("rejects role aura"), "\(run.stderrText)")
    #expect(!run.stderrText.contains("TLS"))
    #expect(try await stack.liveSecret().version == before.version)
    let admin = try stack.adminConnection(database: "postgres")
    defer { admin.close() }
    let path = stack.postgres.directory + "/pg/data/pg_hba.conf"
    let text = try String(contentsOfFile: path, encoding: .utf8)
    try String(text.drop { $0 != "\n" }.dropFirst()).write(
      toFile: path, atomically: false, encoding: .utf8)
    try admin.query("SELECT pg_reload_conf()")
    #expect(try stack.login(oldPassword) == .accepted, "the password was not changed")
  }
}
