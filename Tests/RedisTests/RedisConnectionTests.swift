import Foundation
import LockstepCore
import Redis
import TestSupport
import Testing

@Suite("Redis connection against a real redis-server")
struct RedisConnectionTests {
  @Test func pingWithoutPassword() async throws {
    let (service, _) = try await sharedRedis()
    let connection = try service.redisConnection()
    let roundTrip = try connection.ping()
    // Measured, and plausible even on a loaded two-core machine.
    #expect(roundTrip > .zero && roundTrip < .seconds(5))
    #expect(connection.user == "default")
  }

  @Test func pingWithPasswordFromTheURL() async throws {
    let password = "pw:with/odd%chars@" + String(Int.random(in: 1000...9999))
    try await withLocalService(.redis, password: password) { service in
      let encoded = password.replacingOccurrences(of: "%", with: "%25")
        .replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: "/", with: "%2F")
        .replacingOccurrences(of: "@", with: "%40")
      let url = "redis://default:\(encoded)@\(service.host):\(service.port)/0"
      let connection = try RedisConnection(RedisConfiguration(url: url))
      try connection.ping()
      // Without a user name: AUTH password.
      try RedisConnection(service.redisConfiguration()).ping()
    }
  }

  @Test func noPasswordAgainstAProtectedServerIsNOAUTH() async throws {
    try await withLocalService(.redis, password: "right-password") { service in
      let configuration = RedisConfiguration(endpoint: .tcp(host: service.host, port: service.port))
      let connection = try RedisConnection(configuration)
      #expect(throws: RedisError.authenticationRequired(endpoint: connection.endpoint)) {
        try connection.ping()
      }
    }
  }

  @Test func wrongPasswordIsOneSentenceWithoutThePassword() async throws {
    try await withLocalService(.redis, password: "right-password") { service in
      let configuration = service.redisConfiguration(password: "wrong-password-xyz")
      do throws(RedisError) {
        _ = try RedisConnection(configuration)
        Issue.record("a wrong password was accepted")
      } catch {
        #expect(
          error == .authenticationFailed(endpoint: "127.0.0.1:\(service.port)", user: "default"))
        #expect(error.exitStatus == .noPermission)
        #expect(!error.description.contains("wrong-password-xyz"))
        #expect(!error.description.contains("right-password"))
      }
    }
  }

  @Test func passwordForAServerWithoutOne() async throws {
    let (service, _) = try await sharedRedis()
    #expect(throws: RedisError.passwordNotExpected(endpoint: "127.0.0.1:\(service.port)")) {
      try RedisConnection(service.redisConfiguration(password: "unneeded"))
    }
  }

  @Test func databaseSelection() async throws {
    let (service, prefix) = try await sharedRedis()
    let key = RedisArgument(prefix + "where")
    let three = try service.redisConnection(database: 3)
    try three.command("SET", key, "three")
    let zero = try service.redisConnection(database: 0)
    #expect(try zero.command("GET", key) == .null)
    #expect(try three.command("GET", key) == .bulk(Array("three".utf8)))
    let url = "redis://\(service.host):\(service.port)/3"
    let fromURL = try RedisConnection(RedisConfiguration(url: url))
    #expect(try fromURL.command("GET", key).text == "three")
    #expect(throws: RedisError.invalidDatabase(99)) {
      try service.redisConnection(database: 99)
    }
  }

  @Test func binarySafeArgumentsAndReplyShapes() async throws {
    let (service, prefix) = try await sharedRedis()
    do {
      let connection = try service.redisConnection(database: 4)
      let key: [UInt8] = Array(prefix.utf8) + [0x73, 0x00, 0x0A, 0x25, 0x73, 0xFF]  // "s\0\n%s\xff"
      let value: [UInt8] = Array(0...255)
      #expect(
        try connection.command(["SET", RedisArgument(key), RedisArgument(value)]) == .status("OK"))
      #expect(try connection.command(["GET", RedisArgument(key)]) == .bulk(value))
      let counter = RedisArgument(prefix + "counter")
      let list = RedisArgument(prefix + "list")
      #expect(try connection.command("INCRBY", counter, "41") == .integer(41))
      try connection.command("RPUSH", list, "a", "b")
      #expect(
        try connection.command("LRANGE", list, "0", "-1") == .array([.bulk([97]), .bulk([98])]))
      let replies = try connection.pipeline([
        ["PING"], ["INCR", counter], ["GET", RedisArgument(prefix + "missing")],
      ])
      #expect(replies == [.status("PONG"), .integer(42), .null])
    }
  }

  @Test func errorRepliesAreThrownAndTheConnectionStaysUsable() async throws {
    let (service, prefix) = try await sharedRedis()
    do {
      let connection = try service.redisConnection()
      let k = RedisArgument(prefix + "k")
      do throws(RedisError) {
        try connection.command("NOSUCHCOMMAND", "hunter2")
        Issue.record("an unknown command succeeded")
      } catch {
        guard case .server(let command, _) = error else {
          Issue.record("unexpected error \(error)")
          return
        }
        #expect(command == "NOSUCHCOMMAND")
        #expect(!error.description.contains("hunter2"))
      }
      // A failing command in a pipeline: every reply is still read, then the error thrown.
      #expect(throws: RedisError.self) {
        try connection.pipeline([["SET", k, "1"], ["INCR", k, "extra"], ["SET", k, "2"]])
      }
      #expect(try connection.command("GET", k).text == "2")
    }
  }

  @Test func refusedConnectionNamesHostAndPort() throws {
    let port = FreePort.next()
    let url = "redis://default:hunter2@127.0.0.1:\(port)/0"
    do throws(RedisError) {
      _ = try RedisConnection(RedisConfiguration(url: url))
      Issue.record("connected to a port nobody listens on")
    } catch {
      #expect(error == .connectionRefused(endpoint: "127.0.0.1:\(port)"))
      #expect(error.description.contains("127.0.0.1:\(port)"))
      #expect(!error.description.contains("hunter2"))
      #expect(error.exitStatus == .unavailable)
    }
  }

  @Test func slowReplyTimesOut() async throws {
    try await withLocalService(.redis) { service in
      let admin = try service.redisConnection()
      let impatient = try RedisConnection(
        service.redisConfiguration(commandTimeout: .milliseconds(200)))
      try admin.command("CLIENT", "PAUSE", "1500", "ALL")
      #expect(throws: RedisError.timeout(endpoint: impatient.endpoint)) {
        try impatient.command("SET", "a", "b")
      }
    }
  }

  /// LocalService speaks TCP only, so this test starts its own redis-server on a unix
  /// socket and stops it by PID.
  @Test func unixSocket() throws {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-redis-unix")
    let socket = directory + "/redis.sock"
    let started = try ChildProcess.run(
      "redis-server",
      [
        "--port", "0", "--unixsocket", socket, "--save", "", "--appendonly", "no",
        "--daemonize", "yes", "--pidfile", directory + "/redis.pid", "--dir", directory,
      ], timeout: .seconds(10))
    #expect(started.succeeded)
    defer {
      if let text = try? String(contentsOfFile: directory + "/redis.pid", encoding: .utf8),
        let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
      {
        kill(pid, SIGKILL)
      }
      try? FileManager.default.removeItem(atPath: directory)
    }
    var connection: RedisConnection? = nil
    for _ in 0..<50 where connection == nil {
      connection = try? RedisConnection(RedisConfiguration(url: "unix://\(socket)?db=2"))
      if connection == nil { usleep(50_000) }
    }
    let unix = try #require(connection)
    try unix.ping()
    #expect(unix.endpoint == "unix:\(socket)")
    #expect(unix.database == 2)
    #expect(throws: RedisError.self) {
      try RedisConnection(RedisConfiguration(url: "unix://\(directory)/missing.sock"))
    }
  }
}
