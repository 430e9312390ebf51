import Foundation
import LockstepCore
import TestSupport
import Testing

@Suite("the lockstep binary: version, help, usage errors")
struct CLIBasicsTests {
  @Test func versionPrintsTheVersion() throws {
    let result = try CLI.run(["--version"])
    #expect(result.status == 0)
    #expect(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
  }

  @Test func helpListsEveryCommandOfTheDesign() throws {
    let result = try CLI.run(["--help"])
    #expect(result.status == 0)
    let text = result.stdoutText
    let section = try #require(text.range(of: "SUBCOMMANDS:"))
    let listed = Set(
      text[section.upperBound...].split(separator: "\n").compactMap { line -> String? in
        guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
        return line.split(separator: " ").first.map(String.init)
      })
    for command in [
      "doctor", "keygen", "encrypt", "decrypt", "backup", "restore", "evidence", "rotate", "env",
      "drift",
    ] {
      #expect(listed.contains(command), "--help does not list \(command)")
    }
  }

  @Test func anUnknownFlagIsAUsageError() throws {
    for arguments in [["--bogus"], ["doctor", "--bogus"]] {
      let result = try CLI.run(arguments)
      #expect(result.status == 64)
      #expect(result.stderrText.contains("Error: Unknown option '--bogus'"))
      #expect(result.stdoutText.isEmpty)
    }
  }
}

@Suite("lockstep doctor, run as a user would")
struct DoctorCommandTests {
  @Test func allGreenAgainstTheRealServers() async throws {
    let environment = try await CLI.stackEnvironment()
    let result = try CLI.run(["doctor", "--timeout", "10"], environment: environment)
    #expect(result.status == 0, "\(result.stdoutText)\(result.stderrText)")
    #expect(result.stderrText.isEmpty)
    let lines = result.stdoutText.split(separator: "\n")
    #expect(lines.count == 9)
    #expect(lines.allSatisfy { $0.hasPrefix("✔ ") }, "\(result.stdoutText)")
    for name in ["Vault token", "PostgreSQL login", "Redis PING", "Kubernetes API", "S3 endpoint"] {
      #expect(lines.contains { $0.contains(name) }, "no line for \(name)")
    }
  }

  @Test func withVaultStoppedOneSentenceNamesVault() async throws {
    var environment = try await CLI.stackEnvironment()
    let vault = try await onDedicatedThread { try LocalService.start(.vault) }
    let address = "http://127.0.0.1:\(vault.port)"
    vault.stop()
    environment["VAULT_ADDR"] = address
    let clock = ContinuousClock()
    let started = clock.now
    let result = try CLI.run(["doctor"], environment: environment)
    let elapsed = clock.now - started
    #expect(result.status == 1)
    let errors = result.stderrText.split(separator: "\n")
    #expect(errors.count == 1, "\(result.stderrText)")
    #expect(errors.first?.hasPrefix("lockstep: Vault at \(address) is not reachable: ") == true)
    #expect(result.stdoutText.contains("✘ Vault reachable"))
    #expect(result.stdoutText.contains("✔ PostgreSQL login"))
    // Loose: the suite's other servers share the two cores; alone it takes ~0.3 s.
    #expect(elapsed < .seconds(9), "doctor took \(elapsed)")
  }

  /// A cold machine: the first kubectl runs go through the dispatcher and a binary not yet
  /// in the page cache. Doctor's default deadline must hold a kubectl that takes 3 s a run
  /// (two runs: the context and the API), with every line green.
  @Test func aSlowKubectlFitsTheDefaultDeadline() async throws {
    var environment = try await CLI.stackEnvironment()
    let real = try #require(
      ChildProcess.which("kubectl", path: environment["PATH"]), "kubectl is not on PATH")
    let directory = try TemporaryDirectory.make(prefix: "lockstep-slow-kubectl")
    let script = "#!/bin/sh\nsleep 3\nexec '\(real)' \"$@\"\n"
    _ = FileManager.default.createFile(
      atPath: directory + "/kubectl", contents: Data(script.utf8),
      attributes: [.posixPermissions: 0o755])
    environment["PATH"] = directory + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    let result = try CLI.run(["doctor"], environment: environment)
    #expect(result.status == 0, "\(result.stdoutText)\(result.stderrText)")
    #expect(result.stderrText.isEmpty)
    let lines = result.stdoutText.split(separator: "\n")
    #expect(lines.allSatisfy { $0.hasPrefix("✔ ") }, "\(result.stdoutText)")
    #expect(lines.contains { $0.contains("Kubernetes API") })
    // The slow kubectl is the one doctor ran.
    #expect(result.stdoutText.contains(directory + "/kubectl"), "\(result.stdoutText)")
  }

  @Test func jsonIsMachineReadable() async throws {
    let environment = try await CLI.stackEnvironment()
    let result = try CLI.run(["doctor", "--json", "--timeout", "10"], environment: environment)
    #expect(result.status == 0, "\(result.stderrText)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
    #expect(object["ok"] as? Bool == true)
    let checks = try #require(object["checks"] as? [[String: Any]])
    #expect(checks.count == 9)
    #expect(
      Set(checks.compactMap { $0["system"] as? String }) == [
        "Vault", "PostgreSQL", "Redis", "Kubernetes", "S3",
      ])
    #expect(checks.allSatisfy { $0["status"] as? String == "passed" })
  }

  @Test func nothingConfiguredIsAllSkippedAndSucceeds() throws {
    let home = try TemporaryDirectory.make(prefix: "lockstep-cli-home")
    let result = try CLI.run(["doctor"], environment: ["HOME": home, "PATH": "/nonexistent"])
    #expect(result.status == 0)
    let lines = result.stdoutText.split(separator: "\n")
    #expect(lines.count == 5)
    #expect(lines.allSatisfy { $0.hasPrefix("– ") })
  }

  @Test func aPolicyFileThatCannotBeReadOrParsedIsAnInputError() throws {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-cli-policy")
    let missing = try CLI.run(["doctor", "--policy", directory + "/none.yaml"])
    #expect(missing.status == 64)
    #expect(missing.stderrText.contains("cannot read the policy file"))
    try "version: 1\nvault: {}\n".write(
      toFile: directory + "/bad.yaml", atomically: true, encoding: .utf8)
    let bad = try CLI.run(["doctor", "--policy", directory + "/bad.yaml"])
    #expect(bad.status == 65)
    #expect(bad.stderrText.hasPrefix("lockstep: \(directory)/bad.yaml"))
  }
}
