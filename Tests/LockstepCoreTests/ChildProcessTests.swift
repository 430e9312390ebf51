import LockstepCore
import Testing

@Suite struct ChildProcessTests {
  @Test func capturesOutputAndExitStatus() throws {
    let result = try ChildProcess.run("sh", ["-c", "echo out; echo err >&2; exit 3"])
    #expect(result.stdoutText == "out\n")
    #expect(result.stderrText == "err\n")
    #expect(result.status == 3)
    #expect(!result.succeeded)
  }

  @Test func feedsStdinWithoutTouchingArgv() throws {
    let secret = SecretBytes(utf8: "s3cr3t-on-stdin")
    let result = try ChildProcess.run(
      "sh", ["-c", "cat; echo; cat /proc/$$/cmdline"], stdin: secret)
    #expect(result.stdoutText.hasPrefix("s3cr3t-on-stdin\n"))
    #expect(result.stdoutText.components(separatedBy: "s3cr3t").count == 2)
  }

  /// A child that exits without reading its stdin must give EPIPE, not kill us with SIGPIPE.
  @Test func survivesAChildThatIgnoresStdin() throws {
    let big = SecretBytes.random(count: 4 << 20)
    let result = try ChildProcess.run("true", [], stdin: big)
    #expect(result.status == 0)
  }

  @Test func killsAChildThatOutlivesItsTimeout() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try ChildProcess.run("sleep", ["30"], timeout: .milliseconds(300))
    #expect(result.timedOut)
    #expect(clock.now - start < .seconds(5))
  }

  /// Children must not inherit a blocked SIGTERM (swift-corelibs-foundation#4772).
  @Test func childrenCanBeTerminated() async throws {
    let result = try await ChildProcess.runDetached(
      "sh", ["-c", "kill -TERM $$; sleep 5; echo survived"], timeout: .seconds(10))
    #expect(result.status == 128 + 15)
    #expect(!result.stdoutText.contains("survived"))
  }

  @Test func aMissingProgramIsOneSentence() {
    #expect(throws: ChildProcess.Failure.self) {
      try ChildProcess.run("no-such-program-lockstep", [])
    }
  }

  @Test func environmentIsExactlyWhatWasPassed() throws {
    let result = try ChildProcess.run("/usr/bin/env", [], environment: ["ONLY": "this"])
    #expect(result.stdoutText == "ONLY=this\n")
  }
}
