import ArgumentParser
import LockstepCore

@main
struct Lockstep: AsyncParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "lockstep",
    abstract:
      "Keep secrets and configuration in lockstep across Vault, PostgreSQL, Kubernetes, Redis and .env files.",
    discussion: "Exit codes are listed in docs/cli.md.",
    version: version,
    subcommands: []
  )
}
