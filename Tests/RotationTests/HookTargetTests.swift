import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 13, "hook target", end to end: a rotation hands MINIO_SECRET_KEY to a hook that
/// records what it received; a failing first call is resumed with the same staged value.
/// The policy is the shipped one plus the hook, so this is the full compromise rotation
/// with every class of key: rotated, derived, a Redis ACL user, a hook, manual follow-ups
/// (SMTP_PASSWORD) and kept keys, checked for leaks in every output, the evidence, kubectl's
/// argv and environment, PostgreSQL's log and Redis `MONITOR`.

extension RotationReferenceTests {
  @Test func aHookAppliesTheStagedValueAndIsCalledAgainOnResume() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    let oldPassword = try await stack.seed()
    let monitor = try RedisMonitor(stack.redis)
    defer { monitor.stop() }
    let record = stack.directory + "/hook-calls"
    let hook = stack.directory + "/minio-hook.sh"
    // Fails its first call (as a provider outage would), succeeds after.
    try """
    #!/bin/sh
    n=$(ls '\(record)' 2>/dev/null | grep -c stdin)
    mkdir -p '\(record)'
    printf '%s\\n' "$0" "$@" > '\(record)/'$n.argv
    env > '\(record)/'$n.env
    cat > '\(record)/'$n.stdin
    if [ "$n" = 0 ]; then echo "provider unavailable"; exit 7; fi
    echo "service account updated"

    """.write(toFile: hook, atomically: true, encoding: .utf8)
    chmod(hook, 0o755)
    let policy = try variant(
      stack,
      "manual:\n  - key: MINIO_SECRET_KEY                   # or a hook: templates/hooks/minio-service-account.sh\n    instructions: set a new secret key on the aura service account (mc admin user svcacct edit), then confirm it\n",
      "manual:\n", name: "hook.yaml")
    let text = try String(contentsOfFile: policy, encoding: .utf8)
      .replacingOccurrences(
        of: "rotate:\n",
        with: "rotate:\n  - key: MINIO_SECRET_KEY\n    generate: { password: 40 }\n"
      )
      .replacingOccurrences(
        of: "targets:\n",
        with: """
          targets:
            hooks:
              - name: minio
                run: \(hook)
                args: [aura-minio]
                keys: [MINIO_SECRET_KEY]
                context_keys: [MINIO_ACCESS_KEY]
                send_old: true
                timeout: 20s

          """)
    try text.write(toFile: policy, atomically: true, encoding: .utf8)
    let before = try await stack.liveSecret()
    let oldSecret = try #require(before.data["MINIO_SECRET_KEY"]?.unsafeUTF8String())
    let accessKey = try #require(before.data["MINIO_ACCESS_KEY"]?.unsafeUTF8String())

    let plan = try await stack.rotate("plan", policy: policy)
    #expect(plan.status == 0, "\(plan.stderrText)")
    #expect(plan.stdoutText.contains("rotated by a target: hook minio"))
    for key in ["SMTP_PASSWORD", "MINIO_ENDPOINT", "REDIS_PASSWORD", "DATABASE_URL"] {
      #expect(plan.stdoutText.contains(key), "the plan accounts for \(key)")
    }

    let failed = try await stack.rotate("run", policy: policy)
    #expect(failed.status == 1, "\(failed.stderrText)")
    #expect(
      failed.stderrText.contains("hook minio failed with exit status 7: provider unavailable"))
    #expect(try await stack.liveSecret().version == before.version, "nothing promoted")

    let resumed = try await stack.rotate("resume", policy: policy)
    #expect(resumed.status == 0, "\(resumed.stderrText)")
    #expect(resumed.stdoutText.contains("hook minio: service account updated"))

    let live = try await stack.liveSecret()
    let newSecret = try #require(live.data["MINIO_SECRET_KEY"]?.unsafeUTF8String())
    #expect(newSecret != oldSecret && newSecret.count == 40)
    var documents: [[String: Any]] = []
    for n in 0..<2 {
      let stdin = try String(contentsOfFile: "\(record)/\(n).stdin", encoding: .utf8)
      documents.append(
        try #require(try JSONSerialization.jsonObject(with: Data(stdin.utf8)) as? [String: Any]))
      let argv = try String(contentsOfFile: "\(record)/\(n).argv", encoding: .utf8)
      let environment = try String(contentsOfFile: "\(record)/\(n).env", encoding: .utf8)
      #expect(argv.hasSuffix("\naura-minio\n"))
      for value in [newSecret, oldSecret, accessKey, stack.rotateToken, stack.redis.password!] {
        #expect(!argv.contains(value))
        #expect(!environment.contains(value))
      }
      #expect(!environment.contains("VAULT_TOKEN"))
    }
    // Both calls carry the same staged value; the second says it is a repeat.
    for (index, document) in documents.enumerated() {
      let keys = document["keys"] as? [String: [String: String]]
      #expect(keys?["MINIO_SECRET_KEY"]?["new"] == newSecret)
      #expect(keys?["MINIO_SECRET_KEY"]?["old"] == oldSecret)
      #expect((document["context"] as? [String: String])?["MINIO_ACCESS_KEY"] == accessKey)
      #expect(document["attempt"] as? Int == index + 1)
      #expect(document["resumed"] as? Bool == (index == 1))
    }
    try await expectFullyRotated(
      stack, before: before, oldPassword: oldPassword, alsoRotated: ["MINIO_SECRET_KEY"])
    try await expectNoLeak(
      stack, outputs: [plan, failed, resumed], alsoRotated: ["MINIO_SECRET_KEY"],
      monitor: monitor)
    let status = try await stack.rotate("status")
    #expect(
      status.stdoutText.contains("  SMTP_PASSWORD since "), "the manual follow-up stays pending")
    let evidence = try stack.recordedFiles()
    #expect(evidence.contains("\"exit_status\":0"))
    #expect(evidence.contains("service account updated"))
    for value in [newSecret, oldSecret] {
      #expect(!evidence.contains(value))
      #expect(!resumed.stdoutText.contains(value) && !resumed.stderrText.contains(value))
    }
  }
}
