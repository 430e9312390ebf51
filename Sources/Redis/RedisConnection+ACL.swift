import LockstepCore

/// ACL user management for a password rotation: add the new password beside the old one,
/// remove the old one once every client has the new one, and end the connections the old
/// password opened. Passwords travel only as SHA-256 hashes (`#hex`, `!hex`), never in
/// clear; the connection needs the `acl` (and for `terminateConnections`, `client|kill`)
/// commands, which are admin commands that `MONITOR` does not show.
extension RedisConnection {
  /// The user this connection authenticated as (`ACL WHOAMI`), as the server sees it.
  public func whoAmI() throws(RedisError) -> String {
    guard let name = try command("ACL", "WHOAMI").text else {
      throw .unexpectedReply(command: "ACL WHOAMI")
    }
    return name
  }

  /// Every ACL user name (`ACL USERS`); `["default"]` alone means no ACL users are set up.
  public func aclUserNames() throws(RedisError) -> [String] {
    guard let names = try command("ACL", "USERS").array else {
      throw .unexpectedReply(command: "ACL USERS")
    }
    return names.compactMap(\.text)
  }

  /// The user's flags and password hashes; nil when there is no such user.
  public func aclUser(named name: String) throws(RedisError) -> RedisACLUser? {
    let reply = try command("ACL", "GETUSER", RedisArgument(name))
    if reply == .null { return nil }
    return try RedisACLUser(name: name, reply: reply)
  }

  /// Adds a password by its hash (`ACL SETUSER name #hex`), keeping the others; adding one
  /// the user already has changes nothing. It also clears `nopass`. A missing user is an
  /// error: `ACL SETUSER` would silently create it.
  public func addPassword(_ hash: RedisPasswordHash, toUser name: String) throws(RedisError) {
    guard try aclUser(named: name) != nil else { throw Self.noSuchUser(name) }
    try setUser(name, "#" + hash.hex)
  }

  /// Removes a password by its hash (`ACL SETUSER name !hex`). Idempotent: a hash the user
  /// no longer has is not an error (Redis refuses `!` for one it does not know). Returns
  /// whether a password was removed.
  @discardableResult
  public func removePassword(_ hash: RedisPasswordHash, fromUser name: String) throws(RedisError)
    -> Bool
  {
    guard let user = try aclUser(named: name) else { throw Self.noSuchUser(name) }
    guard user.passwordHashes.contains(hash) else { return false }
    try setUser(name, "!" + hash.hex)
    return true
  }

  /// Closes every connection authenticated as `name` (`CLIENT KILL USER name`): changing
  /// a password does not end the sessions the old one opened. Returns how many were closed.
  @discardableResult
  public func terminateConnections(ofUser name: String) throws(RedisError) -> Int {
    let reply: RedisReply
    do throws(RedisError) {
      reply = try command("CLIENT", "KILL", "USER", RedisArgument(name))
    } catch .server(_, let message) where message.contains("No such user") {
      throw Self.noSuchUser(name)
    }
    guard let count = reply.integer else { throw .unexpectedReply(command: "CLIENT KILL") }
    return Int(count)
  }

  /// Makes the ACL change survive a restart where the server can: `ACL SAVE` when it keeps
  /// its users in an ACL file. Users defined in `redis.conf` would need `CONFIG REWRITE`,
  /// which rewrites the operator's file; that is reported, not done.
  public func persistACL() throws(RedisError) -> RedisACLPersistence {
    let reply = try command("CONFIG", "GET", "aclfile")
    guard let pair = reply.array, pair.count == 2 else {
      throw .unexpectedReply(command: "CONFIG GET")
    }
    guard let file = pair[1].text, !file.isEmpty else { return .inMemoryOnly }
    try command("ACL", "SAVE")
    return .savedToACLFile
  }

  private func setUser(_ name: String, _ rule: String) throws(RedisError) {
    do throws(RedisError) {
      let reply = try command("ACL", "SETUSER", RedisArgument(name), RedisArgument(rule))
      guard reply == .status("OK") else { throw .unexpectedReply(command: "ACL SETUSER") }
    } catch .server(let command, let message) {
      // Redis quotes the rule it refused (`modifier '#…'`); the hash stays out of messages.
      throw .server(command: "ACL SETUSER", message: Self.withoutQuotedRule(message, command))
    }
  }

  static func withoutQuotedRule(_ message: String, _ command: String) -> String {
    guard let open = message.range(of: "modifier '"),
      let close = message[open.upperBound...].range(of: "'")
    else { return message }
    return String(message[..<open.lowerBound]) + "modifier"
      + String(message[close.upperBound...])
  }

  static func noSuchUser(_ name: String) -> RedisError {
    .invalidArgument(reason: "Redis has no ACL user '\(UntrustedText.escaped(name))'")
  }
}

/// Where an ACL change now lives.
public enum RedisACLPersistence: String, Sendable, Equatable {
  /// Written to the server's ACL file with `ACL SAVE`.
  case savedToACLFile = "acl-file"
  /// Only in the server's memory: a restart brings back the users of its configuration.
  case inMemoryOnly = "memory"
}
