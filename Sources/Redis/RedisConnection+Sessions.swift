import LockstepCore

/// Session invalidation: the runbook's `redis-cli FLUSHDB` wipes every key (caches, queues,
/// rate limits) to kill the sessions; this removes only the keys matching a pattern.
extension RedisConnection {
  /// Removes every key matching `pattern` (a Redis glob such as `sess:*`) and returns how
  /// many were removed.
  ///
  /// `SCAN cursor MATCH pattern COUNT batch` walks the keyspace without blocking the server
  /// the way `KEYS` would; each batch of matches is removed with `UNLINK` (memory reclaimed
  /// in the background), pipelined with the next `SCAN` so each batch costs one round trip.
  /// Keys that do not match are never touched. The count is the sum of `UNLINK`'s replies,
  /// so a key `SCAN` returns twice, or one that expires meanwhile, is not counted twice.
  @discardableResult
  public func invalidateSessions(pattern: String, batch: Int = 1000) throws(RedisError) -> Int {
    try Self.validate(pattern: pattern, batch: batch)
    var removed = 0
    var reply = try command(scan(cursor: [UInt8(ascii: "0")], pattern: pattern, batch: batch))
    while true {
      let (cursor, keys) = try Self.scanPage(reply)
      let finished = cursor == [UInt8(ascii: "0")]
      var commands: [[RedisArgument]] = []
      if !keys.isEmpty { commands.append(["UNLINK"] + keys.map { RedisArgument($0) }) }
      if !finished { commands.append(scan(cursor: cursor, pattern: pattern, batch: batch)) }
      if commands.isEmpty { break }
      let replies = try pipeline(commands)
      if !keys.isEmpty {
        guard let count = replies[0].integer else { throw .unexpectedReply(command: "UNLINK") }
        removed += Int(count)
      }
      if finished { break }
      reply = replies[replies.count - 1]
    }
    return removed
  }

  /// How many distinct keys match `pattern`, with the same `SCAN` walk and no deletion:
  /// what `invalidateSessions` would remove right now.
  public func countKeys(pattern: String, batch: Int = 1000) throws(RedisError) -> Int {
    try Self.validate(pattern: pattern, batch: batch, allowEverything: true)
    var seen = Set<[UInt8]>()
    var cursor: [UInt8] = [UInt8(ascii: "0")]
    repeat {
      let page = try Self.scanPage(
        try command(scan(cursor: cursor, pattern: pattern, batch: batch)))
      cursor = page.cursor
      seen.formUnion(page.keys)
    } while cursor != [UInt8(ascii: "0")]
    return seen.count
  }

  /// Deletes every key of this connection's database (`FLUSHDB`). Only for a policy that
  /// says so explicitly: sessions usually share the database with data worth keeping.
  public func flushDatabase() throws(RedisError) {
    let reply = try command("FLUSHDB")
    guard reply == .status("OK") else { throw .unexpectedReply(command: "FLUSHDB") }
  }

  private func scan(cursor: [UInt8], pattern: String, batch: Int) -> [RedisArgument] {
    ["SCAN", RedisArgument(cursor), "MATCH", RedisArgument(pattern), "COUNT", RedisArgument(batch)]
  }

  private static func scanPage(_ reply: RedisReply) throws(RedisError) -> (
    cursor: [UInt8], keys: [[UInt8]]
  ) {
    guard let parts = reply.array, parts.count == 2, case .bulk(let cursor) = parts[0],
      let elements = parts[1].array
    else { throw .unexpectedReply(command: "SCAN") }
    var keys: [[UInt8]] = []
    keys.reserveCapacity(elements.count)
    for element in elements {
      guard case .bulk(let key) = element else { throw .unexpectedReply(command: "SCAN") }
      keys.append(key)
    }
    return (cursor, keys)
  }

  /// A pattern without a literal prefix would delete everything (`SessionPattern`): that is
  /// `flushDatabase`, asked for by name, never by a pattern typo.
  private static func validate(
    pattern: String, batch: Int, allowEverything: Bool = false
  ) throws(RedisError) {
    guard batch >= 1 else {
      throw .invalidArgument(reason: "The SCAN batch size must be at least 1")
    }
    guard !pattern.isEmpty else {
      throw .invalidArgument(reason: "The session key pattern is empty")
    }
    if !allowEverything { try SessionPattern.check(pattern) }
  }
}
