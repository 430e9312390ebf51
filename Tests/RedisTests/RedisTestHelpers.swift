import LockstepCore
import Redis
import TestSupport

extension LocalService {
  /// A configuration for this server; `password` defaults to the one it was started with.
  func redisConfiguration(
    database: Int = 0, username: String? = nil, password: String? = nil,
    commandTimeout: Duration = .seconds(30)
  ) -> RedisConfiguration {
    let secret = (password ?? self.password).map { SecretBytes(utf8: $0) }
    return RedisConfiguration(
      endpoint: .tcp(host: host, port: port), database: database, username: username,
      password: secret, commandTimeout: commandTimeout)
  }

  func redisConnection(database: Int = 0) throws -> RedisConnection {
    try RedisConnection(redisConfiguration(database: database))
  }
}

/// The test process's shared redis-server (no password) and a key prefix of this test's
/// own, for tests that neither flush, pause nor count the whole keyspace.
func sharedRedis() async throws -> (LocalService, String) {
  let service = try await SharedServices.shared.service(.redis)
  return (service, "t\(UInt64.random(in: 0...UInt64.max)):")
}

/// Writes `count` keys `prefix0…` with MSET, 1,000 pairs a command, pipelined.
func populate(_ connection: RedisConnection, prefix: String, count: Int) throws {
  var commands: [[RedisArgument]] = []
  var start = 0
  while start < count {
    var command: [RedisArgument] = ["MSET"]
    for index in start..<min(start + 1000, count) {
      command.append(RedisArgument("\(prefix)\(index)"))
      command.append("v")
    }
    commands.append(command)
    start += 1000
  }
  for chunk in stride(from: 0, to: commands.count, by: 50) {
    try connection.pipeline(Array(commands[chunk..<min(chunk + 50, commands.count)]))
  }
}

/// Every key in the connection's database (under `prefix`), as text, sorted.
func allKeys(_ connection: RedisConnection, prefix: String = "") throws -> [String] {
  let reply = try connection.command("KEYS", RedisArgument(prefix + "*"))
  return (reply.array ?? []).compactMap(\.text).sorted()
}
