import LockstepCore
import Redis
import TestSupport
import Testing

@Suite("Session invalidation against a real redis-server")
struct RedisSessionTests {
  @Test func onlySessionKeysAreRemoved() async throws {
    let (service, prefix) = try await sharedRedis()
    let connection = try service.redisConnection()
    try populate(connection, prefix: prefix + "sess:", count: 2_500)
    // Near misses that a sloppy pattern or prefix match would take with it.
    let keep = [
      "session:1", "sess", "xsess:1", "cache:sess:1", "SESS:1", "queue:jobs", "rate:10.0.0.1",
      "sess-list",
    ].map { prefix + $0 }
    for key in keep { try connection.command("SET", RedisArgument(key), "keep") }
    try connection.command("HSET", RedisArgument(prefix + "user:1"), "name", "a")

    let removed = try connection.invalidateSessions(pattern: prefix + "sess:*", batch: 100)

    #expect(removed == 2_500)
    #expect(try allKeys(connection, prefix: prefix) == (keep + [prefix + "user:1"]).sorted())
    // Idempotent: nothing left to remove.
    #expect(try connection.invalidateSessions(pattern: prefix + "sess:*") == 0)
  }

  @Test func otherDatabasesAreUntouched() async throws {
    let (service, prefix) = try await sharedRedis()
    let sessions = try service.redisConnection(database: 1)
    let other = try service.redisConnection(database: 2)
    try populate(sessions, prefix: prefix + "sess:", count: 10)
    try populate(other, prefix: prefix + "sess:", count: 10)
    #expect(try sessions.invalidateSessions(pattern: prefix + "sess:*") == 10)
    #expect(try other.countKeys(pattern: prefix + "sess:*") == 10)
  }

  @Test func countKeysDeletesNothing() async throws {
    let (service, prefix) = try await sharedRedis()
    let connection = try service.redisConnection()
    try populate(connection, prefix: prefix + "sess:", count: 1_234)
    try populate(connection, prefix: prefix + "other:", count: 100)
    #expect(try connection.countKeys(pattern: prefix + "sess:*", batch: 50) == 1_234)
    #expect(try connection.countKeys(pattern: prefix + "*") == 1_334)
  }

  @Test func patternsMatchingEverythingAreRefused() async throws {
    try await withLocalService(.redis) { service in
      let connection = try service.redisConnection()
      try connection.command("SET", "sess:a", "b")
      for pattern in ["*", "**", ""] {
        #expect(throws: RedisError.self) { try connection.invalidateSessions(pattern: pattern) }
      }
      #expect(throws: RedisError.self) {
        try connection.invalidateSessions(pattern: "sess:*", batch: 0)
      }
      #expect(try allKeys(connection) == ["sess:a"])
    }
  }

  @Test func flushDatabaseWipesOnlyItsDatabase() async throws {
    try await withLocalService(.redis) { service in
      let five = try service.redisConnection(database: 5)
      let zero = try service.redisConnection()
      try populate(five, prefix: "anything:", count: 100)
      try zero.command("SET", "keep", "1")
      try five.flushDatabase()
      #expect(try allKeys(five) == [])
      #expect(try allKeys(zero) == ["keep"])
    }
  }

  /// 100,000 session keys among 100,000 others. The figure goes to docs/benchmarks.md via
  /// Benchmarks/redis_invalidate.sh; here it is printed and only loosely bounded.
  @Test func hundredThousandSessions() async throws {
    try await withLocalService(.redis) { service in
      let connection = try service.redisConnection()
      try populate(connection, prefix: "sess:", count: 100_000)
      try populate(connection, prefix: "data:", count: 100_000)
      #expect(try connection.command("DBSIZE") == .integer(200_000))

      let clock = ContinuousClock()
      var removed = 0
      let elapsed = try clock.measure {
        removed = try connection.invalidateSessions(pattern: "sess:*", batch: 1000)
      }

      #expect(removed == 100_000)
      #expect(try connection.command("DBSIZE") == .integer(100_000))
      #expect(try connection.countKeys(pattern: "data:*") == 100_000)
      #expect(elapsed < .seconds(60))
      print("redis: invalidated 100,000 of 200,000 keys in \(elapsed)")
    }
  }
}
