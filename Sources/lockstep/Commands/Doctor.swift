import ArgumentParser
import Diagnostics
import LockstepCore
import Rotation

extension Lockstep {
  /// Checks that each configured outside system is reachable with the credentials given.
  struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check that Vault, PostgreSQL, Redis, kubectl and S3 are reachable.",
      discussion: """
        Checks only what the environment configures (VAULT_ADDR, PG*, REDIS_URL, kubectl with \
        a kubeconfig, AWS_ENDPOINT_URL or LOCKSTEP_BACKUP_URL). With --policy, also checks \
        the rights `rotate run` will need on the policy's targets. Exit 0 when every \
        configured check passes, 1 otherwise. See docs/doctor.md.
        """)

    @Flag(help: "Print the checks as JSON.")
    var json = false

    @Option(help: "Also check the targets of this rotation policy (YAML).")
    var policy: String?

    @Option(help: "Seconds each system's checks may take.")
    var timeout: Double = Checkup.defaultTimeoutSeconds

    func validate() throws {
      guard timeout > 0, timeout <= 300 else {
        throw ValidationError("--timeout must be between 0 and 300 seconds")
      }
    }

    func run() async throws {
      var checkup = Checkup(timeout: .milliseconds(Int(timeout * 1000)))
      if let policy {
        guard let text = try? String(contentsOfFile: policy, encoding: .utf8) else {
          throw UserError("cannot read the policy file \(policy)", exit: .usage)
        }
        // policy → requirements → checks: the rotation preflight's own, so doctor and
        // `rotate run` cannot disagree.
        checkup.policy = RotationPreflight.doctorPlan(
          policy: try RotationPolicy.parse(text, file: policy),
          environment: checkup.environment, clientTimeout: checkup.clientTimeout)
      }
      let report = await checkup.run()
      if json {
        Terminal.out(report.json())
      } else {
        let lines = report.lines { status, mark in
          switch status {
          case .passed: Terminal.green(mark)
          case .failed: Terminal.red(mark)
          case .skipped: Terminal.dim(mark)
          }
        }
        for line in lines { Terminal.out(line) }
      }
      for problem in report.problems { Terminal.error(problem) }
      if !report.passed { throw ExitCode(ExitStatus.failure.rawValue) }
    }
  }
}
