import LockstepCore
import Redis
import TestSupport
import Testing

@Suite("ACL users and permission checks against a real redis-server")
struct RedisAccessTests {
  @Test func aclUserAuthenticatesWithUserAndPassword() async throws {
    let (service, _) = try await sharedRedis()
    do {
      let admin = try service.redisConnection()
      try admin.command("ACL", "SETUSER", "aura", "on", ">aura:pw@1", "~sess:*", "+@all")
      let url = "redis://aura:aura%3Apw%401@\(service.host):\(service.port)/0"
      let user = try RedisConnection(RedisConfiguration(url: url))
      try user.ping()
      #expect(try user.command("ACL", "WHOAMI").text == "aura")
      let wrong = service.redisConfiguration(username: "aura", password: "nope")
      #expect(throws: RedisError.authenticationFailed(endpoint: user.endpoint, user: "aura")) {
        try RedisConnection(wrong)
      }
    }
  }

  @Test func noPermIsReportedForTheCommand() async throws {
    let (service, _) = try await sharedRedis()
    do {
      let admin = try service.redisConnection()
      try admin.command(
        "ACL", "SETUSER", "reader", "on", ">reader-pw", "~*", "+ping", "+scan", "+get")
      let reader = try RedisConnection(
        service.redisConfiguration(username: "reader", password: "reader-pw"))
      try admin.command("SET", "sess:1", "x")
      do throws(RedisError) {
        try reader.invalidateSessions(pattern: "sess:*")
        Issue.record("a user without +unlink removed keys")
      } catch {
        #expect(error == .permissionDenied(command: "UNLINK", user: "reader"))
        #expect(error.exitStatus == .noPermission)
        #expect(!error.description.contains("reader-pw"))
      }
      #expect(try admin.command("EXISTS", "sess:1") == .integer(1))
    }
  }

  @Test func accessCheckThroughDryRunAsAdmin() async throws {
    let (service, prefix) = try await sharedRedis()
    let admin = try service.redisConnection()
    let access = try admin.checkInvalidationAccess(pattern: prefix + "sess:*", includingFlush: true)
    #expect(access.user == "default")
    #expect(access.isSufficient)
    #expect(access.problems.isEmpty)
  }

  @Test func accessCheckByProbingForALeastPrivilegeUser() async throws {
    let (service, _) = try await sharedRedis()
    do {
      let admin = try service.redisConnection()
      try admin.command(
        "ACL", "SETUSER", "invalidator", "on", ">inv-pw", "~sess:*", "+scan", "+unlink",
        "+ping", "+acl|whoami")
      try admin.command("ACL", "SETUSER", "scanner", "on", ">scan-pw", "~sess:*", "+scan")
      try admin.command(
        "ACL", "SETUSER", "wrongkeys", "on", ">wk-pw", "~cache:*", "+scan", "+unlink")
      try admin.command("SET", "sess:keep-me", "1")

      let invalidator = try RedisConnection(
        service.redisConfiguration(username: "invalidator", password: "inv-pw"))
      let good = try invalidator.checkInvalidationAccess(pattern: "sess:*", includingFlush: true)
      #expect(good.scan == .allowed && good.unlink == .allowed)
      #expect(good.flush == .unknown)

      let scanner = try RedisConnection(
        service.redisConfiguration(username: "scanner", password: "scan-pw"))
      let partial = try scanner.checkInvalidationAccess(pattern: "sess:*")
      #expect(partial.user == "scanner")
      #expect(partial.scan == .allowed)
      #expect(partial.unlink == .denied)
      #expect(partial.problems.count == 1)
      #expect(partial.problems[0].contains("UNLINK"))

      let wrongKeys = try RedisConnection(
        service.redisConfiguration(username: "wrongkeys", password: "wk-pw"))
      #expect(try wrongKeys.checkInvalidationAccess(pattern: "sess:*").unlink == .denied)

      // The checks removed nothing.
      #expect(try admin.command("EXISTS", "sess:keep-me") == .integer(1))
    }
  }

  @Test func dryRunAnswersForAPatternWithoutAStar() async throws {
    let (service, prefix) = try await sharedRedis()
    let admin = try service.redisConnection()
    try admin.command("SET", RedisArgument(prefix + "sess:exact"), "1")
    let access = try admin.checkInvalidationAccess(pattern: prefix + "sess:exact")
    // DRYRUN answers without a probe key, so the one matching key is not touched.
    #expect(access.unlink == .allowed)
    #expect(try admin.command("EXISTS", RedisArgument(prefix + "sess:exact")) == .integer(1))
  }
}
