import Foundation
import LockstepCore
import Postgres
import TestSupport
import Testing
import Vault

/// Issue 17: mistakes at 3 a.m. caught before they cost, one evidence trail across
/// resumes, an abort. Real servers, the built binary.

extension RotationStackSuite {
  /// The stack's policy with `old` replaced by `new`, written next to it.
  func variant(_ stack: RotationStack, _ old: String, _ new: String, name: String) throws
    -> String
  {
    let text = try String(contentsOfFile: stack.policyPath, encoding: .utf8)
    #expect(text.contains(old))
    let path = stack.directory + "/" + name
    try text.replacingOccurrences(of: old, with: new).write(
      toFile: path, atomically: true, encoding: .utf8)
    return path
  }
}

@Suite(.serialized) struct RotationReferenceTests: RotationStackSuite {
  @Test func aTypodSecretOrOneNoPodReadsStopsThePreflight() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let typo = try variant(stack, "secret: aura-secrets", "secret: aura-secret", name: "typo.yaml")
    let run = try await stack.rotate("run", policy: typo)
    #expect(run.status == 1, "\(run.stderrText)")
    #expect(run.stderrText.contains("preflight failed, nothing was changed"))
    #expect(run.stderrText.contains("Secret default/aura-secret does not exist"))
    let doctor = try await stack.run("doctor", "--policy", typo, "--timeout", "30")
    #expect(doctor.status == 1)
    #expect(
      doctor.stderrText.contains("Secret default/aura-secret does not exist"),
      "\(doctor.stderrText)")

    // A Secret that exists but that no pod reads.
    let created = try await ChildProcess.runDetached(
      "kubectl", ["create", "secret", "generic", "unused-secrets", "--from-literal=A=b"],
      environment: stack.environment, timeout: .seconds(30))
    #expect(created.succeeded, "\(created.stderrText)")
    let unread = try variant(
      stack, "secret: aura-secrets", "secret: unused-secrets", name: "unread.yaml")
    let second = try await stack.rotate("run", policy: unread)
    #expect(second.status == 1)
    #expect(
      second.stderrText.contains("does not read Secret unused-secrets"), "\(second.stderrText)")
    #expect(try stack.login(oldPassword) == .accepted)
    #expect(try await stack.liveSecret().version == before.version)
  }

  @Test func aTypodRoleIsCaughtAndTheFixedPolicyRuns() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let typo = try variant(stack, "role: aura\n", "role: aura_ap\n", name: "typo-role.yaml")
    let run = try await stack.rotate("run", policy: typo)
    #expect(run.status == 1, "\(run.stderrText)")
    #expect(
      run.stderrText.contains("PostgreSQL role \"aura_ap\" named by the policy does not exist"))
    #expect((try await stack.rotate("status")).stdoutText.contains("no rotation in progress"))
    let fixed = try await stack.rotate("run")
    #expect(fixed.status == 0, "\(fixed.stderrText)")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
  }

  @Test func planSaysWhenTheLiveSecretIsMissing() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    try await stack.vaultClient.deleteAllVersions("secret/aura/production")
    let plan = try await stack.rotate("plan")
    #expect(plan.stdoutText.contains("does not exist"), "\(plan.stdoutText)")
    let run = try await stack.rotate("run")
    #expect(run.status == 1)
    #expect(run.stderrText.contains("secret/aura/production does not exist"))
  }

  /// Resume from another directory (another machine) continues the one trail: the
  /// evidence there holds every record from the start and verifies; a policy changed in
  /// between is recorded.
  @Test func resumeElsewhereContinuesTheSameEvidence() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "verify:after"])
    #expect(crashed.status == 128 + 9)
    let changed = try variant(stack, "batch: 1000", "batch: 500", name: "changed.yaml")
    let elsewhere = stack.directory + "/elsewhere"
    let resumed = try await stack.rotate(
      "resume", ["--evidence-dir", elsewhere + "/evidence", "--state-dir", elsewhere + "/state"],
      policy: changed)
    #expect(resumed.status == 0, "\(resumed.stderrText)")
    // The first machine keeps the unsealed start of the trail; the trail of record is the
    // continued one, which the end-state check verifies in its place.
    try FileManager.default.removeItem(atPath: stack.directory + "/evidence")
    try FileManager.default.copyItem(
      atPath: elsewhere + "/evidence", toPath: stack.directory + "/evidence")
    try await expectFullyRotated(stack, before: before, oldPassword: oldPassword)
    let files = try FileManager.default.contentsOfDirectory(atPath: elsewhere + "/evidence")
    #expect(files.count == 1)
    let path = elsewhere + "/evidence/" + files[0]
    let text = try String(contentsOfFile: path, encoding: .utf8)
    for step in ["\"stage\"", "\"apply\"", "\"verify\"", "\"promote\"", "\"seal\""] {
      #expect(text.contains("\"step\":\(step)"), "\(step) in the continued trail")
    }
    #expect(text.contains("\"policy_changed\":true"))
    let verify = try await stack.run(
      "evidence", "verify", path, "--key", stack.directory + "/signing.key.pub")
    #expect(verify.status == 0, "\(verify.stderrText)")
    let notice = try await stack.run(
      "evidence", "report", path, "--template",
      Repository.root + "/templates/notices/resolved.md")
    #expect(notice.status == 0, "\(notice.stderrText)")
    #expect(notice.stdoutText.contains("lockstepsig1"))
    // The Redis target's own connection (url_env) is named nowhere in the notice.
    #expect(!notice.stdoutText.contains("$REDIS_URL") && !notice.stdoutText.contains("url_env"))
    #expect(notice.stdoutText.contains("interrupted and resumed"))
    #expect(notice.stdoutText.contains("matching line"))
  }

  @Test func abortUndoesWhatItCanAndSaysWhatItCannot() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let before = try await stack.liveSecret()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "apply:after"])
    #expect(crashed.status == 128 + 9)
    #expect(try stack.login(oldPassword) != .accepted, "apply changed the password")
    // The incident notice during the incident, from the unsealed trail.
    let evidence = stack.directory + "/evidence"
    let file = evidence + "/" + (try FileManager.default.contentsOfDirectory(atPath: evidence))[0]
    let incident = try await stack.run(
      "evidence", "report", file, "--in-progress", "--template",
      Repository.root + "/templates/notices/incident.md")
    #expect(incident.status == 0, "\(incident.stderrText)")
    #expect(incident.stdoutText.contains("in progress"))
    let verifyDir = try await stack.run("evidence", "verify", evidence)
    #expect(verifyDir.status == 2)
    #expect(verifyDir.stdoutText.contains("NOT SEALED"))

    let aborted = try await stack.rotate(
      "abort",
      [
        "--signing-key", stack.directory + "/signing.key", "--evidence-dir", evidence,
        "--state-dir", stack.directory + "/state", "--reason", "wrong policy", "--yes",
      ])
    #expect(aborted.status == 0, "\(aborted.stderrText)")
    #expect(aborted.stdoutText.contains("not undone"))
    #expect(try stack.login(oldPassword) == .accepted, "the live password works again")
    #expect(try await stack.liveSecret().version == before.version)
    #expect((try await stack.rotate("status")).stdoutText.contains("no rotation in progress"))
    let sealed = try await stack.run(
      "evidence", "verify", evidence, "--key", stack.directory + "/signing.key.pub")
    #expect(sealed.status == 0, "\(sealed.stdoutText)")
    #expect(try String(contentsOfFile: file, encoding: .utf8).contains("wrong policy"))
  }

  /// After promote an abort would leave applications on values being thrown away.
  @Test func abortAfterPromoteIsRefused() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    let crashed = try await stack.rotate("run", environment: ["LOCKSTEP_FAULT": "deploy:before"])
    #expect(crashed.status == 128 + 9)
    let aborted = try await stack.rotate(
      "abort",
      [
        "--signing-key", stack.directory + "/signing.key", "--evidence-dir",
        stack.directory + "/evidence", "--reason", "late", "--yes",
      ])
    #expect(aborted.status == 1)
    #expect(aborted.stderrText.contains("cannot be aborted"))
    #expect((try await stack.rotate("resume")).status == 0)
  }
}
