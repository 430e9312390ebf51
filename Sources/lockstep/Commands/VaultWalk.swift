import ArgumentParser
import Foundation
import LockstepCore
import Vault

extension Lockstep {
  /// `lockstep vault walk`: lists and reads every secret under a prefix and reports counts
  /// and time, never values; it shows whether the token can read a whole tree and how fast.
  struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "vault", abstract: "Inspect Vault KV trees.", subcommands: [Walk.self])

    struct Walk: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "List and read every secret under MOUNT[/PREFIX]; print counts and time only.")

      @Argument(help: "A KV mount, optionally with a folder: secret or secret/aura.")
      var prefix: String

      @Option(help: "Requests in flight at once, each on its own kept-alive connection.")
      var parallelism = 16

      @Flag(help: "List only; do not read the secrets.")
      var listOnly = false

      @Flag(help: "Print the result as JSON.")
      var json = false

      /// What `--json` prints.
      struct Report: Encodable {
        let prefix: String
        let secrets: Int
        let keys: Int
        let seconds: Double
        let secretsPerSecond: Double

        enum CodingKeys: String, CodingKey {
          case prefix, secrets, keys, seconds
          case secretsPerSecond = "secrets_per_second"
        }
      }

      func run() async throws {
        var configuration = try VaultConfiguration.fromEnvironment()
        configuration.parallelism = parallelism
        let vault = VaultClient(configuration: configuration)
        let clock = ContinuousClock()
        let start = clock.now
        var secrets = 0
        var keys = 0
        if listOnly {
          secrets = try await vault.walk(prefix).count
        } else {
          let all = try await vault.readAll(under: prefix)
          secrets = all.count
          keys = all.reduce(0) { $0 + $1.data.count }
        }
        let elapsed = clock.now - start
        let seconds = elapsed.inSeconds
        let rate = seconds > 0 ? Double(secrets) / seconds : 0
        if json {
          let report = Report(
            prefix: prefix, secrets: secrets, keys: keys,
            seconds: (seconds * 1000).rounded() / 1000, secretsPerSecond: rate.rounded())
          try JSONOutput.print(report, pretty: false)
        } else {
          print(
            "\(secrets) secrets (\(keys) keys) under \(prefix) in "
              + "\(String(format: "%.3f", seconds)) s: \(String(format: "%.0f", rate)) secrets/s")
        }
      }
    }
  }
}
