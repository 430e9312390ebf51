import LockstepCore
import Redis

/// `RedisUserAdministration` on hiredis. A connection is opened per call, on a thread of
/// its own (hiredis blocks); a rotation makes a handful of calls.
public struct RedisUsers: RedisUserAdministration {
  let configuration: RedisConfiguration

  public init(configuration: RedisConfiguration) {
    self.configuration = configuration
  }

  private func withConnection<T: Sendable>(
    _ body: @escaping @Sendable (RedisConnection) throws -> T
  ) async throws -> T {
    let configuration = configuration
    return try await onDedicatedThread { try body(try RedisConnection(configuration)) }
  }

  public func facts(user: String) async throws -> RedisUserFacts {
    try await withConnection { connection in
      let me = try connection.whoAmI()
      let names: [String]
      let account: RedisACLUser?
      do throws(RedisError) {
        names = try connection.aclUserNames()
        account = try connection.aclUser(named: user)
      } catch .permissionDenied {
        return RedisUserFacts(
          connectedAs: me, userNames: nil, account: nil, denied: ["ACL USERS", "ACL GETUSER"])
      }
      var denied: [String] = []
      let probes: [(String, [RedisArgument])] = [
        ("ACL SETUSER", ["ACL", "SETUSER", RedisArgument(user)]),
        ("CLIENT KILL", ["CLIENT", "KILL", "USER", RedisArgument(user)]),
      ]
      for (name, arguments) in probes {
        do {
          let reply = try connection.command(
            ["ACL", "DRYRUN", RedisArgument(me)] + arguments)
          if reply != .status("OK") { denied.append(name) }
        } catch {
          // This user may not run ACL DRYRUN: the rights show at apply.
          break
        }
      }
      return RedisUserFacts(connectedAs: me, userNames: names, account: account, denied: denied)
    }
  }

  public func user(_ name: String) async throws -> RedisACLUser? {
    try await withConnection { try $0.aclUser(named: name) }
  }

  public func addPassword(_ hash: RedisPasswordHash, to user: String) async throws -> Bool {
    try await withConnection { connection in
      if try connection.aclUser(named: user)?.passwordHashes.contains(hash) == true {
        return false
      }
      try connection.addPassword(hash, toUser: user)
      return true
    }
  }

  public func removePassword(_ hash: RedisPasswordHash, from user: String) async throws {
    try await withConnection { _ = try $0.removePassword(hash, fromUser: user) }
  }

  public func removePasswords(of user: String, except keep: RedisPasswordHash) async throws
    -> Int
  {
    try await withConnection { connection in
      var removed = 0
      for hash in try connection.aclUser(named: user)?.passwordHashes ?? [] where hash != keep {
        if try connection.removePassword(hash, fromUser: user) { removed += 1 }
      }
      return removed
    }
  }

  public func terminateConnections(of user: String) async throws -> Int {
    try await withConnection { try $0.terminateConnections(ofUser: user) }
  }

  public func persist() async throws -> RedisACLPersistence {
    try await withConnection { try $0.persistACL() }
  }

  public func login(user: String, password: SecretBytes) async throws -> RedisLoginOutcome {
    let configuration = configuration
    return try await onDedicatedThread {
      try configuration.login(user: user, password: password)
    }
  }
}
