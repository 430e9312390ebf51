/// One ACL user as `ACL GETUSER` describes it, reduced to what a password rotation needs.
public struct RedisACLUser: Sendable, Equatable {
  public let name: String
  /// The `on` flag: a user that is `off` cannot authenticate at all.
  public let enabled: Bool
  /// The `nopass` flag: any password authenticates this user.
  public let noPassword: Bool
  /// The SHA-256 of each password the user accepts, in the server's order.
  public let passwordHashes: [RedisPasswordHash]

  public init(
    name: String, enabled: Bool, noPassword: Bool, passwordHashes: [RedisPasswordHash]
  ) {
    self.name = name
    self.enabled = enabled
    self.noPassword = noPassword
    self.passwordHashes = passwordHashes
  }

  /// Reads `ACL GETUSER`'s reply: a flat array of field names and values (RESP2), of which
  /// `flags` and `passwords` are used; an answer without them is refused, not guessed.
  init(name: String, reply: RedisReply) throws(RedisError) {
    guard let fields = reply.array, fields.count % 2 == 0 else {
      throw .unexpectedReply(command: "ACL GETUSER")
    }
    var flags: [String]? = nil
    var hashes: [RedisPasswordHash]? = nil
    var index = 0
    while index < fields.count {
      let value = fields[index + 1]
      switch fields[index].text {
      case "flags":
        flags = (value.array ?? []).compactMap(\.text)
      case "passwords":
        var parsed: [RedisPasswordHash] = []
        for element in value.array ?? [] {
          guard let text = element.text, let hash = RedisPasswordHash(hex: text) else {
            throw .unexpectedReply(command: "ACL GETUSER")
          }
          parsed.append(hash)
        }
        hashes = parsed
      default:
        break
      }
      index += 2
    }
    guard let flags, let hashes else { throw .unexpectedReply(command: "ACL GETUSER") }
    self.init(
      name: name, enabled: flags.contains("on"), noPassword: flags.contains("nopass"),
      passwordHashes: hashes)
  }
}

/// What a login attempt with a given user and password came to.
public enum RedisLoginOutcome: Sendable, Equatable {
  case accepted
  /// `WRONGPASS`: the password is not (or no longer) one the user accepts, or the user is
  /// disabled or missing; Redis does not say which.
  case refused
}
