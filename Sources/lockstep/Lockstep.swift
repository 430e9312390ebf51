import ArgumentParser
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

@main
struct Lockstep: AsyncParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "lockstep",
    abstract:
      "Keep secrets and configuration in lockstep across Vault, PostgreSQL, Kubernetes, Redis and .env files.",
    discussion: "Exit codes are listed in docs/cli.md.",
    version: version,
    subcommands: [
      // One line per command group; each type lives in Commands/<Name>.swift.
      Doctor.self,
      Keygen.self, Encrypt.self, Decrypt.self,
      BackupCommand.self, Restore.self,
      EvidenceCommand.self,
      Rotate.self,
      RedisCommand.self,
      VaultCommand.self,
      Env.self, DriftCommand.self,
      CrashCommand.self,
    ]
  )

  /// Hardens the process, runs the command, and turns every error into one sentence on
  /// stderr plus the exit code docs/cli.md documents. argument-parser's own errors (bad
  /// flags, --help, --version) keep its formatting and codes (64 for usage).
  static func main() async {
    try? ProcessHardening.disableCoreDumps()
    try? ProcessHardening.quietCrashReports()
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch let error as any LockstepError {
      Terminal.error(error.description)
      Glibc.exit(error.exitStatus.rawValue)
    } catch let error as ExitCode {
      Glibc.exit(error.rawValue)
    } catch {
      exit(withError: error)
    }
  }
}
