import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Rotation

#if canImport(Glibc)
  import Glibc
#endif

/// The hook runner against real child processes: a hook script that records what it
/// received (stdin, argv, environment) to a file, as an attacker reading /proc would see it.
/// Serialized: a script written while another test spawns a child can be "Text file busy"
/// (the child holds the write descriptor between fork and exec).
@Suite(.serialized) struct HookRunnerTests {
  let directory: String

  init() throws {
    directory = try TemporaryDirectory.make(prefix: "hooks")
  }

  /// A hook that writes its argv, its environment and its stdin to files, then prints
  /// `line` (or runs `extra` shell code first).
  func recordingHook(
    name: String = "recorder", printing line: String = "applied", extra: String = ""
  )
    throws -> String
  {
    let path = directory + "/\(name).sh"
    try """
    #!/bin/sh
    printf '%s\\n' "$0" "$@" > '\(directory)/\(name).argv'
    env > '\(directory)/\(name).env'
    cat > '\(directory)/\(name).stdin'
    \(extra)
    echo '\(line)'

    """.write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
    return path
  }

  func read(_ name: String) throws -> String {
    try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
  }

  @Test func valuesGoOnStdinOnlyAndTheEnvironmentIsScrubbed() throws {
    let hook = HookSpec(
      name: "recorder", executable: try recordingHook(), arguments: ["aura-minio", "aura-app"],
      keys: ["MINIO_SECRET_KEY"], contextKeys: ["MINIO_ACCESS_KEY"], sendOld: true,
      passEnvironment: ["MC_CONFIG_DIR"])
    let newValue = "new-\(UUID().uuidString)"
    let oldValue = "old-\(UUID().uuidString)"
    let parent = [
      "PATH": "/usr/bin:/bin", "HOME": directory, "VAULT_TOKEN": "root-token-of-lockstep",
      "REDIS_URL": "redis://default:redis-password@127.0.0.1:1/0", "MC_CONFIG_DIR": "/tmp/mc",
      "PGPASSWORD": "pg-password",
    ]
    let outcome = try HookRunner(parentEnvironment: parent).run(
      hook,
      HookInvocation(
        rotationID: "rot-1", secretPath: "secret/aura/production",
        newValues: ["MINIO_SECRET_KEY": SecretBytes(utf8: newValue)],
        oldValues: ["MINIO_SECRET_KEY": SecretBytes(utf8: oldValue)],
        context: ["MINIO_ACCESS_KEY": SecretBytes(utf8: "aura-key-id")]))
    #expect(outcome.status == 0)
    #expect(outcome.summary == "applied")
    #expect(!outcome.summaryWithheld)
    #expect(outcome.attempt == 1 && !outcome.resumed)

    let argv = try read("recorder.argv")
    let environment = try read("recorder.env")
    #expect(argv.split(separator: "\n").dropFirst() == ["aura-minio", "aura-app"])
    for value in [newValue, oldValue, "aura-key-id"] {
      #expect(!argv.contains(value))
      #expect(!environment.contains(value))
    }
    for secret in ["root-token-of-lockstep", "redis-password", "pg-password", "VAULT_TOKEN"] {
      #expect(!environment.contains(secret))
    }
    #expect(environment.contains("MC_CONFIG_DIR=/tmp/mc"))
    #expect(environment.contains("LOCKSTEP_HOOK=recorder"))

    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(read("recorder.stdin").utf8)) as? [String: Any])
    #expect(document["lockstep_hook"] as? Int == 1)
    #expect(document["action"] as? String == "apply")
    #expect(document["rotation_id"] as? String == "rot-1")
    #expect(document["secret"] as? String == "secret/aura/production")
    #expect(document["resumed"] as? Bool == false)
    #expect(document["attempt"] as? Int == 1)
    let keys = try #require(document["keys"] as? [String: [String: String]])
    #expect(keys == ["MINIO_SECRET_KEY": ["new": newValue, "old": oldValue]])
    #expect(document["context"] as? [String: String] == ["MINIO_ACCESS_KEY": "aura-key-id"])
  }

  @Test func theOldValueIsSentOnlyWhenAsked() throws {
    let hook = HookSpec(name: "recorder", executable: try recordingHook(), keys: ["TOKEN"])
    _ = try HookRunner().run(
      hook,
      HookInvocation(
        rotationID: "rot-2", secretPath: "secret/a", attempt: 2, resumed: true,
        newValues: ["TOKEN": SecretBytes(utf8: "n\"ew\\\nvalue")],
        oldValues: [:]))
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(read("recorder.stdin").utf8)) as? [String: Any])
    #expect(document["keys"] as? [String: [String: String]] == ["TOKEN": ["new": "n\"ew\\\nvalue"]])
    #expect(document["resumed"] as? Bool == true)
    #expect(document["attempt"] as? Int == 2)
  }

  @Test func aSummaryThatEchoesAValueIsWithheld() throws {
    let value = "s3cr3t-\(UUID().uuidString)"
    // The hook prints a part of the value it read from stdin.
    let hook = HookSpec(
      name: "echo",
      executable: try recordingHook(
        name: "echo", printing: "ok",
        extra: """
          sed -n 's/.*"new":"\\(s3cr3t-[^"]\\{10\\}\\).*/set to \\1/p' '\(directory)/echo.stdin'
          exit 0
          """), keys: ["TOKEN"])
    let outcome = try HookRunner().run(
      hook,
      HookInvocation(
        rotationID: "r", secretPath: "secret/a", newValues: ["TOKEN": SecretBytes(utf8: value)]))
    #expect(outcome.summaryWithheld)
    #expect(!outcome.summary.contains("s3cr3t"))
    #expect(!"\(outcome.evidence)".contains("s3cr3t"))
  }

  @Test func aFailingHookFailsWithItsStatusAndNoValue() throws {
    let value = "v-\(UUID().uuidString)"
    let hook = HookSpec(
      name: "failing",
      executable: try recordingHook(
        name: "failing",
        extra: """
          echo "provider said no to $(cat '\(directory)/failing.stdin')" >&2
          exit 3
          """), keys: ["TOKEN"])
    #expect {
      try HookRunner().run(
        hook,
        HookInvocation(
          rotationID: "r", secretPath: "secret/a", newValues: ["TOKEN": SecretBytes(utf8: value)]))
    } throws: { error in
      guard let error = error as? HookError, case .failed(_, let status, let summary) = error else {
        return false
      }
      return status == 3 && summary.contains("withheld") && !error.description.contains(value)
    }
  }

  @Test func aHungHookIsKilledWithItsProcessGroup() throws {
    let hook = HookSpec(
      name: "hung",
      executable: try recordingHook(
        name: "hung",
        extra: """
          sleep 300 &
          echo $! > '\(directory)/grandchild.pid'
          wait
          """), keys: ["TOKEN"], timeout: .milliseconds(1500))
    let clock = ContinuousClock()
    let start = clock.now
    #expect(throws: HookError.timedOut(hook: "hung", after: .milliseconds(1500))) {
      try HookRunner().run(
        hook,
        HookInvocation(
          rotationID: "r", secretPath: "secret/a", newValues: ["TOKEN": SecretBytes(utf8: "x")]))
    }
    #expect(clock.now - start < .seconds(30))
    let pid = try #require(
      Int32(try read("grandchild.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
    // Gone, or a zombie waiting for init to reap it: no longer running.
    var running = false
    for _ in 0..<50 {
      let state = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
      running = state.map { !$0.contains(") Z ") && !$0.contains(") X ") } ?? false
      if !running { break }
      usleep(100_000)
    }
    #expect(!running)
  }

  @Test func aHookMustBeAnExecutableFile() throws {
    let hook = HookSpec(name: "missing", executable: directory + "/nope.sh", keys: ["TOKEN"])
    #expect(throws: HookError.notExecutable(hook: "missing", path: directory + "/nope.sh")) {
      try HookRunner().run(
        hook,
        HookInvocation(
          rotationID: "r", secretPath: "secret/a", newValues: ["TOKEN": SecretBytes(utf8: "x")]))
    }
  }
}
