import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

/// Issue 13, "manual follow-ups": listed by the plan, pending after the run (evidence and
/// `rotate status`), completed with `rotate confirm` (value on stdin, CAS write, deployed),
/// on the real servers.

extension RotationStackSuite {
  func confirm(
    _ stack: RotationStack, policy: String, key: String, value: String, extra: [String] = []
  ) async throws -> ChildProcess.Result {
    var environment = stack.environment
    environment["VAULT_TOKEN"] = stack.rotateToken
    return try await ChildProcess.runDetached(
      Repository.lockstepBinary,
      [
        "rotate", "confirm", "--policy", policy, "--key", key, "--signing-key",
        stack.directory + "/signing.key", "--evidence-dir", stack.directory + "/evidence",
      ] + extra, environment: environment, stdin: SecretBytes(utf8: value + "\n"),
      timeout: .seconds(120), directory: stack.directory)
  }
}

extension RotationReferenceTests {
  @Test func manualFollowUpsArePendingUntilConfirmedAndDeployed() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    // SMTP_PASSWORD also reaches aura-api through the Secret, so confirm must deploy it.
    let policy = try variant(
      stack,
      "  - deployment: aura-api\n      namespace: default\n      mode: secret\n      secret: aura-secrets\n      keys: [SESSION_SECRET, IRON_SESSION_PASSWORD, DATABASE_URL, REDIS_URL]",
      "  - deployment: aura-api\n      namespace: default\n      mode: secret\n      secret: aura-secrets\n      keys: [SESSION_SECRET, IRON_SESSION_PASSWORD, DATABASE_URL, REDIS_URL, SMTP_PASSWORD]",
      name: "smtp-deployed.yaml")
    let before = try await stack.liveSecret()
    let oldSMTP = try #require(before.data["SMTP_PASSWORD"]?.unsafeUTF8String())

    let plan = try await stack.rotate("plan", policy: policy)
    #expect(plan.status == 0, "\(plan.stderrText)")
    #expect(plan.stdoutText.contains("manual follow-up: create a new SMTP password"))

    let run = try await stack.rotate("run", policy: policy)
    #expect(run.status == 0, "\(run.stderrText)")
    #expect(run.stdoutText.contains("manual follow-up pending: SMTP_PASSWORD"))
    var status = try await stack.rotate("status", policy: policy)
    #expect(status.stdoutText.contains("manual follow-ups pending"), "\(status.stderrText)")
    for key in ["MINIO_SECRET_KEY", "SMTP_PASSWORD"] {
      #expect(status.stdoutText.contains("  \(key) since "))
    }
    let evidence = try stack.recordedFiles()
    #expect(evidence.contains("\"manual_pending\""))
    #expect(evidence.contains("the object store's address, not a credential"), "kept reasons")

    // The leaked value is refused; so is a key that is not a manual follow-up.
    let leaked = try await confirm(stack, policy: policy, key: "SMTP_PASSWORD", value: oldSMTP)
    #expect(leaked.status == 65, "\(leaked.stderrText)")
    #expect(leaked.stderrText.contains("the leaked one"))
    let notManual = try await confirm(stack, policy: policy, key: "SESSION_SECRET", value: "x")
    #expect(notManual.status == 64)
    #expect(notManual.stderrText.contains("SESSION_SECRET is not a manual follow-up"))

    let newSMTP = "smtp-\(UUID().uuidString)"
    let liveBefore = try await stack.liveSecret()
    let confirmed = try await confirm(stack, policy: policy, key: "SMTP_PASSWORD", value: newSMTP)
    #expect(confirmed.status == 0, "\(confirmed.stderrText)")
    #expect(confirmed.stdoutText.contains("SMTP_PASSWORD confirmed"))
    #expect(confirmed.stdoutText.contains("deployed to default/aura-api"))
    let live = try await stack.liveSecret()
    #expect(live.version == (liveBefore.version ?? 0) + 1)
    #expect(live.data["SMTP_PASSWORD"]?.unsafeUTF8String() == newSMTP)
    for key in liveBefore.data.keys where key != "SMTP_PASSWORD" {
      #expect(live.data[key] == liveBefore.data[key], "\(key) kept by confirm")
    }
    #expect(live.data.isJSON("DB_POOL_MAX"), "a JSON value stays JSON")
    let secret = try await stack.kubectlJSON("secret", "aura-secrets")
    let data = secret["data"] as? [String: String] ?? [:]
    #expect(
      data["SMTP_PASSWORD"].flatMap { Data(base64Encoded: $0) } == Data(newSMTP.utf8),
      "the Secret holds the confirmed value")
    #expect(data["DATABASE_URL"] != nil, "the Secret's other keys kept")
    let deployment = try await stack.kubectlJSON("deployment", "aura-api")
    let annotations =
      ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any]).flatMap {
        ($0["metadata"] as? [String: Any])?["annotations"] as? [String: String]
      } ?? [:]
    #expect(annotations["kubectl.kubernetes.io/restartedAt"] != nil, "aura-api restarted")

    status = try await stack.rotate("status", ["--json"], policy: policy)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(status.stdout)) as? [String: Any])
    let pending = (object["pending_follow_ups"] as? [[String: Any]] ?? []).compactMap {
      $0["key"] as? String
    }
    #expect(pending == ["MINIO_SECRET_KEY"])

    // Confirming the rest empties the record; status says nothing is pending.
    for key in pending {
      let done = try await confirm(stack, policy: policy, key: key, value: "\(key)-\(UUID())")
      #expect(done.status == 0, "\(done.stderrText)")
    }
    status = try await stack.rotate("status", policy: policy)
    #expect(!status.stdoutText.contains("pending"), "\(status.stdoutText)")

    // The confirm evidence verifies, and no confirmed value is anywhere it must not be.
    let verify = try await stack.run(
      "evidence", "verify", stack.directory + "/evidence", "--key",
      stack.directory + "/signing.key.pub")
    #expect(verify.status == 0, "\(verify.stdoutText) \(verify.stderrText)")
    let recorded = try stack.recordedFiles()
    let kubectlLog = (try? String(contentsOfFile: stack.kubectlLog, encoding: .utf8)) ?? ""
    for text in [recorded, kubectlLog, confirmed.stdoutText, confirmed.stderrText] {
      #expect(!text.contains(newSMTP))
      #expect(!text.contains(oldSMTP))
    }
  }
}
