import Foundation
import LockstepCore
import Redis
import TestSupport
import Testing

/// Known-answer SHA-256 digests (`printf %s VALUE | sha256sum`) of the test passwords:
/// the Redis module takes hashes from its caller, so the tests bring their own.
private let oldPassword = "acl-old-pw"
private let oldHash = RedisPasswordHash(
  hex: "05167c0b9bdd7f6920bfd2228618d962c3c501c569430db8d25640bc56cd427f")
private let newPassword = "acl-new-pw"
private let newHash = RedisPasswordHash(
  hex: "c4ee41940468e5a64e16e2bf56646ea56711ab4587963da3217fc1a79c8c7100")

@Suite("Redis ACL users: passwords by hash, logins, connections, against a real redis-server")
struct RedisACLTests {
  @Test func hashParsingAcceptsOnlyLowercaseHexOf64Digits() throws {
    let hex = String(repeating: "0123456789abcdef", count: 4)
    #expect(RedisPasswordHash(hex: hex)?.hex == hex)
    #expect(RedisPasswordHash(hex: hex.uppercased()) == nil)
    #expect(RedisPasswordHash(hex: String(hex.dropLast())) == nil)
    #expect(RedisPasswordHash(hex: String(hex.dropLast()) + "g") == nil)
    #expect(throws: RedisError.self) { try RedisPasswordHash(digest: [1, 2, 3]) }
    #expect(RedisPasswordHash(hex: hex)!.description == "<redis password hash>")
  }

  @Test func rotateByHashKeepsTheOldPasswordUntilItIsRemoved() async throws {
    let (service, _) = try await sharedRedis()
    let admin = try service.redisConnection()
    let name = "acl-\(UInt32.random(in: 0...UInt32.max))"
    try admin.command(
      "ACL", "SETUSER", RedisArgument(name), "on", RedisArgument(">" + oldPassword), "+ping")
    let configuration = service.redisConfiguration()
    let old = SecretBytes(utf8: oldPassword)
    let new = SecretBytes(utf8: newPassword)
    let before = try #require(try admin.aclUser(named: name))
    #expect(before.enabled && !before.noPassword)
    // The server's own hash of the old password is the known answer.
    #expect(before.passwordHashes == [try #require(oldHash)])

    try admin.addPassword(try #require(newHash), toUser: name)
    try admin.addPassword(try #require(newHash), toUser: name)  // idempotent
    #expect(try admin.aclUser(named: name)?.passwordHashes.count == 2)
    #expect(try configuration.login(user: name, password: old) == .accepted)
    #expect(try configuration.login(user: name, password: new) == .accepted)

    #expect(try admin.removePassword(try #require(oldHash), fromUser: name))
    #expect(try !admin.removePassword(try #require(oldHash), fromUser: name))  // idempotent
    #expect(try configuration.login(user: name, password: old) == .refused)
    #expect(try configuration.login(user: name, password: new) == .accepted)
    #expect(try admin.aclUser(named: name)?.passwordHashes == [try #require(newHash)])
  }

  @Test func aMissingUserIsNeverCreated() async throws {
    let (service, _) = try await sharedRedis()
    let admin = try service.redisConnection()
    let name = "acl-missing-\(UInt32.random(in: 0...UInt32.max))"
    #expect(try admin.aclUser(named: name) == nil)
    #expect(throws: RedisError.self) { try admin.addPassword(try #require(newHash), toUser: name) }
    #expect(throws: RedisError.self) {
      try admin.removePassword(try #require(oldHash), fromUser: name)
    }
    #expect(throws: RedisError.self) { try admin.terminateConnections(ofUser: name) }
    #expect(try admin.aclUser(named: name) == nil)
    #expect(try !admin.aclUserNames().contains(name))
    #expect(try admin.aclUserNames().contains("default"))
    #expect(try admin.whoAmI() == "default")
  }

  @Test func addingAPasswordClearsNopass() async throws {
    let (service, _) = try await sharedRedis()
    let admin = try service.redisConnection()
    let name = "acl-nopass-\(UInt32.random(in: 0...UInt32.max))"
    try admin.command("ACL", "SETUSER", RedisArgument(name), "on", "nopass", "+ping")
    #expect(try admin.aclUser(named: name)?.noPassword == true)
    try admin.addPassword(try #require(newHash), toUser: name)
    #expect(try admin.aclUser(named: name)?.noPassword == false)
    #expect(
      try service.redisConfiguration().login(user: name, password: SecretBytes(utf8: "any"))
        == .refused)
  }

  @Test func connectionsOpenedWithTheOldPasswordAreEnded() async throws {
    let (service, _) = try await sharedRedis()
    let admin = try service.redisConnection()
    let name = "acl-kill-\(UInt32.random(in: 0...UInt32.max))"
    try admin.command(
      "ACL", "SETUSER", RedisArgument(name), "on", RedisArgument(">" + oldPassword), "+ping")
    let attacker = try RedisConnection(
      service.redisConfiguration(username: name, password: oldPassword))
    try attacker.ping()
    try admin.addPassword(try #require(newHash), toUser: name)
    try admin.removePassword(try #require(oldHash), fromUser: name)
    // Removing the password does not end a session it opened...
    try attacker.ping()
    #expect(try admin.terminateConnections(ofUser: name) == 1)
    // ...terminating does.
    #expect(throws: RedisError.self) { try attacker.ping() }
    #expect(try admin.terminateConnections(ofUser: name) == 0)
  }

  @Test func withoutAnACLFileTheChangeIsInMemoryOnly() async throws {
    let (service, _) = try await sharedRedis()
    #expect(try service.redisConnection().persistACL() == .inMemoryOnly)
  }

  @Test func noPasswordOrHashReachesMonitor() async throws {
    try await withLocalService(.redis) { service in
      let admin = try service.redisConnection()
      let name = "acl-monitor"
      try admin.command(
        "ACL", "SETUSER", RedisArgument(name), "on", RedisArgument("#" + (oldHash?.hex ?? "")),
        "+ping")
      // Every command goes to the slow log too.
      try admin.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
      let monitor = try RedisMonitor(service)
      defer { monitor.stop() }
      let configuration = service.redisConfiguration()
      try admin.addPassword(try #require(newHash), toUser: name)
      #expect(
        try configuration.login(user: name, password: SecretBytes(utf8: newPassword)) == .accepted)
      try admin.removePassword(try #require(oldHash), fromUser: name)
      #expect(
        try configuration.login(user: name, password: SecretBytes(utf8: oldPassword)) == .refused)
      try admin.command("SET", "monitor-end", "1")
      #expect(monitor.wait(for: "monitor-end"))
      let slowlog = try admin.command("SLOWLOG", "GET", "1000")
      let serverLog =
        (try? String(contentsOfFile: service.directory + "/redis.log", encoding: .utf8)) ?? ""
      let seen = monitor.text + "\n" + flattened(slowlog) + "\n" + serverLog
      // The logins were made and are seen, redacted.
      #expect(seen.contains("\"AUTH\" \"(redacted)\" \"(redacted)\""))
      for value in [oldPassword, newPassword, oldHash?.hex ?? "-", newHash?.hex ?? "-"] {
        #expect(!seen.contains(value))
      }
    }
  }
}

/// Every string in a reply tree, one a line.
private func flattened(_ reply: RedisReply) -> String {
  if let elements = reply.array { return elements.map(flattened).joined(separator: "\n") }
  if let integer = reply.integer { return String(integer) }
  return reply.text ?? ""
}
