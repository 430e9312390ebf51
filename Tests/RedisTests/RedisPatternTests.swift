import Foundation
import LockstepCore
import Redis
import TestSupport
import Testing

/// Issue 11 item 6: a pattern with no literal prefix (`?*`, `**`, `[a-z]*`) matches every
/// key, so it is refused like `*`; a prefixed pattern still removes only its keys.
@Suite struct RedisPatternTests {
  static let everything = ["*", "?*", "**", "*?", "[a-z]*", "[^x]*", "?", "[\\]]*"]

  @Test(arguments: everything)
  func patternsWithoutALiteralPrefixAreRefused(pattern: String) throws {
    #expect(throws: RedisError.self) { try SessionPattern.check(pattern) }
  }

  @Test(arguments: ["sess:*", "s?ss:*", "\\*literal*", "aura:sess:[0-9]*", "x"])
  func patternsWithALiteralPrefixAreAccepted(pattern: String) throws {
    try SessionPattern.check(pattern)
  }

  /// The reproduction, against a fresh redis-server through the built binary.
  @Test func invalidateWithAWildcardOnlyPatternDeletesNothing() async throws {
    try await withLocalService(.redis) { redis in
      let connection = try redis.redisConnection()
      try populate(connection, prefix: "sess:", count: 20)
      try populate(connection, prefix: "cache:", count: 20)
      let environment = [
        "REDIS_URL": "redis://127.0.0.1:\(redis.port)/0", "PATH": "/usr/bin:/bin",
        "NO_COLOR": "1",
      ]
      for pattern in Self.everything {
        let result = try ChildProcess.run(
          Repository.lockstepBinary, ["redis", "invalidate", "--pattern", pattern, "--yes"],
          environment: environment, timeout: .seconds(60))
        #expect(result.status == 64, "\(pattern): \(result.stdoutText) \(result.stderrText)")
        #expect(result.stderrText.contains("matches every key"), "\(result.stderrText)")
        #expect(try allKeys(connection).count == 40, "\(pattern) deleted keys")
      }
      let sessions = try ChildProcess.run(
        Repository.lockstepBinary, ["redis", "invalidate", "--pattern", "sess:*", "--yes"],
        environment: environment, timeout: .seconds(60))
      #expect(sessions.status == 0, "\(sessions.stderrText)")
      #expect(sessions.stdoutText == "20\n")
      #expect(try allKeys(connection).allSatisfy { $0.hasPrefix("cache:") })
      #expect(try allKeys(connection).count == 20)
    }
  }
}
