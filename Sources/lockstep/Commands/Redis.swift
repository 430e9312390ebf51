import ArgumentParser
import LockstepCore
import Redis

extension Lockstep {
  /// Redis session operations, reading `REDIS_URL`.
  struct RedisCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "redis",
      abstract: "Invalidate sessions in the Redis named by REDIS_URL.",
      subcommands: [Invalidate.self])

    struct Invalidate: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Remove the keys matching a pattern with SCAN + UNLINK; other keys stay.",
        discussion:
          "Without --yes, only counts the matching keys. Prints the number of keys removed.")

      @Option(help: "Redis glob of the session keys, e.g. 'sess:*'.")
      var pattern: String

      @Option(help: "Keys per SCAN page and UNLINK call.")
      var batch = 1000

      @Flag(help: "Delete the keys (without it, only count them).")
      var yes = false

      func run() async throws {
        let connection = try RedisConnection()
        if yes {
          let removed = try connection.invalidateSessions(pattern: pattern, batch: batch)
          Terminal.out(String(removed))
        } else {
          let count = try connection.countKeys(pattern: pattern, batch: batch)
          Terminal.out(String(count))
          Terminal.warn(
            "\(count) keys match '\(pattern)' in \(connection.endpoint) database \(connection.database); nothing was deleted, re-run with --yes to remove them."
          )
        }
      }
    }
  }
}
