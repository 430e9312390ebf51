import Drift
import Foundation
import LockstepCore
import TestSupport
import Testing

/// The repository's `.pre-commit-hooks.yaml`, run by the real `pre-commit` (PyPI; `make
/// deps` installs it) on a temporary git repository that takes the hooks from a path repo
/// holding that file: the hook fails on drift and passes once the inventory is fixed.
@Suite struct PreCommitHookTests {
  let code = "code:{src,cmd}/**/*.{js,py,go}"

  /// The environment of a run: the built lockstep first on PATH, pre-commit's cache in a
  /// temporary directory.
  func environment() throws -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    let binary = (Repository.lockstepBinary as NSString).deletingLastPathComponent
    environment["PATH"] = binary + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    environment["PRE_COMMIT_HOME"] = try TemporaryDirectory.make(prefix: "pre-commit-home")
    environment["GIT_CONFIG_NOSYSTEM"] = "1"
    for (key, value) in [
      ("GIT_AUTHOR_NAME", "t"), ("GIT_AUTHOR_EMAIL", "t@example.invalid"),
      ("GIT_COMMITTER_NAME", "t"), ("GIT_COMMITTER_EMAIL", "t@example.invalid"),
    ] {
      environment[key] = value
    }
    return environment
  }

  func git(_ arguments: [String], in directory: String, _ environment: [String: String]) throws
    -> ChildProcess.Result
  {
    let result = try ChildProcess.run(
      "git", ["-c", "init.defaultBranch=main"] + arguments, environment: environment,
      timeout: .seconds(60), directory: directory)
    guard result.succeeded else {
      throw UserError("git \(arguments.first ?? ""): \(result.stderrText)")
    }
    return result
  }

  /// A git repository holding this checkout's `.pre-commit-hooks.yaml`; returns its commit.
  func hookRepository(_ environment: [String: String]) throws -> (path: String, rev: String) {
    let path = try TemporaryDirectory.make(prefix: "lockstep-hooks")
    try FileManager.default.copyItem(
      atPath: Repository.root + "/.pre-commit-hooks.yaml", toPath: path + "/.pre-commit-hooks.yaml")
    _ = try git(["init", "-q"], in: path, environment)
    _ = try git(["add", "."], in: path, environment)
    _ = try git(["commit", "-qm", "hooks"], in: path, environment)
    let rev = try git(["rev-parse", "HEAD"], in: path, environment).stdoutText
      .trimmingCharacters(in: .whitespacesAndNewlines)
    return (path, rev)
  }

  func preCommit(in directory: String, _ environment: [String: String]) throws
    -> ChildProcess.Result
  {
    try ChildProcess.run(
      "pre-commit", ["run", "--all-files", "--color=never"], environment: environment,
      timeout: .seconds(120), directory: directory)
  }

  func configure(_ fixture: DriftFixture, hook: String, from hooks: (path: String, rev: String))
    throws
  {
    try fixture.writeFile(
      ".pre-commit-config.yaml",
      """
      repos:
        - repo: \(hooks.path)
          rev: \(hooks.rev)
          hooks:
            - id: \(hook)
              args: [--expect, "keys:env_keys.txt", --against, "\(code)"]

      """)
  }

  @Test func checkHookFailsOnDriftAndPassesAfterTheFix() throws {
    let environment = try environment()
    let hooks = try hookRepository(environment)
    let fixture = try DriftFixture.make()
    try configure(fixture, hook: "lockstep-drift", from: hooks)
    _ = try git(["init", "-q"], in: fixture.root, environment)
    _ = try git(["add", "."], in: fixture.root, environment)

    let failing = try preCommit(in: fixture.root, environment)
    #expect(failing.status == 1, "\(failing.stdoutText)\(failing.stderrText)")
    #expect(failing.stdoutText.contains("lockstep drift"))
    #expect(failing.stdoutText.contains("Failed"))
    #expect(failing.stdoutText.contains("STRIPE_KEY"))
    #expect(failing.stdoutText.contains("FEATURE_FLAG"))
    #expect(fixture.leaksNothing(failing.stdoutText + failing.stderrText))

    let fix = try ChildProcess.run(
      Repository.lockstepBinary,
      ["drift", "--expect", "keys:env_keys.txt", "--against", code, "--fix"],
      environment: environment, timeout: .seconds(60), directory: fixture.root)
    #expect(fix.status == 2)
    #expect(fix.stderrText.contains("added 2 keys to env_keys.txt"))
    _ = try git(["add", "."], in: fixture.root, environment)

    let passing = try preCommit(in: fixture.root, environment)
    #expect(passing.status == 0, "\(passing.stdoutText)\(passing.stderrText)")
    #expect(passing.stdoutText.contains("Passed"))
  }

  @Test func fixHookAppendsAndThenPasses() throws {
    let environment = try environment()
    let hooks = try hookRepository(environment)
    let fixture = try DriftFixture.make()
    try configure(fixture, hook: "lockstep-drift-fix", from: hooks)
    _ = try git(["init", "-q"], in: fixture.root, environment)
    _ = try git(["add", "."], in: fixture.root, environment)
    let before = try String(contentsOfFile: fixture.root + "/env_keys.txt", encoding: .utf8)

    let fixing = try preCommit(in: fixture.root, environment)
    #expect(fixing.status == 1, "\(fixing.stdoutText)\(fixing.stderrText)")
    #expect(fixing.stdoutText.contains("added 2 keys to env_keys.txt"))
    let after = try String(contentsOfFile: fixture.root + "/env_keys.txt", encoding: .utf8)
    #expect(after == before + "FEATURE_FLAG\nSTRIPE_KEY\n")
    #expect(fixture.leaksNothing(fixing.stdoutText + fixing.stderrText))

    _ = try git(["add", "."], in: fixture.root, environment)
    let passing = try preCommit(in: fixture.root, environment)
    #expect(passing.status == 0, "\(passing.stdoutText)\(passing.stderrText)")
  }
}
