import ArgumentParser
import LockstepCore

extension Lockstep {
  /// Checks that each configured outside system is reachable with the credentials given.
  struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check that Vault, PostgreSQL, Redis, kubectl and S3 are reachable.")

    @Flag(help: "Print the checks as JSON.")
    var json = false

    func run() async throws {
      throw UserError("doctor is being built (issue 2)", exit: .failure)
    }
  }
}
