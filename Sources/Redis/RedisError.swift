import LockstepCore

/// Everything that can go wrong talking to Redis, each as the one sentence a user sees.
///
/// `endpoint` is always a redacted form (`127.0.0.1:6379`, `unix:/run/redis.sock`), never
/// a URL with credentials; no case carries a password, and server error text is trimmed of
/// the arguments Redis sometimes echoes back (`with args beginning with: …`).
public enum RedisError: LockstepError, Equatable {
  /// The variable holding the URL (`REDIS_URL` by default) is not set.
  case notConfigured(variable: String)
  /// `REDIS_URL` could not be parsed; `reason` never quotes the URL.
  case invalidURL(reason: String)
  /// `rediss://` asked for TLS, which Debian's hiredis 0.14 cannot do.
  case tlsUnsupported
  case connectionRefused(endpoint: String)
  /// Any other failure to open the connection (unknown host, no route, bad socket path).
  case unreachable(endpoint: String, reason: String)
  case timeout(endpoint: String)
  /// The connection broke after it was established (server gone, reset).
  case connectionLost(endpoint: String, reason: String)
  /// The server requires a password and `REDIS_URL` has none (`NOAUTH`).
  case authenticationRequired(endpoint: String)
  /// `WRONGPASS` / `invalid password`: the user or password was refused.
  case authenticationFailed(endpoint: String, user: String)
  /// `REDIS_URL` carries a password but the server's default user has none configured.
  case passwordNotExpected(endpoint: String)
  /// `NOPERM`: the ACL user may not run `command` (or touch its keys).
  case permissionDenied(command: String, user: String)
  /// `SELECT` refused the database number.
  case invalidDatabase(Int)
  /// The bytes on the wire were not RESP, or hiredis ran out of memory.
  case protocolError(reason: String)
  /// Any other error reply (`ERR …`), with echoed arguments removed.
  case server(command: String, message: String)
  /// A reply of a shape the command never returns.
  case unexpectedReply(command: String)
  /// A key pattern or batch size Lockstep refuses (a pattern matching every key).
  case invalidArgument(reason: String)

  public var description: String {
    switch self {
    case .notConfigured(let variable):
      return "\(variable) is not set; export it as redis://[user:password@]host:port/db."
    case .invalidURL(let reason):
      return "REDIS_URL is not a valid Redis URL: \(reason)."
    case .tlsUnsupported:
      return
        "REDIS_URL asks for TLS (rediss://), but this build's hiredis (0.14) has no TLS support; use redis:// over a trusted network or a TLS tunnel."
    case .connectionRefused(let endpoint):
      return "Redis at \(endpoint) refused the connection; is redis-server running there?"
    case .unreachable(let endpoint, let reason):
      return "Could not connect to Redis at \(endpoint): \(reason)."
    case .timeout(let endpoint):
      return "Redis at \(endpoint) did not answer in time."
    case .connectionLost(let endpoint, let reason):
      return "The connection to Redis at \(endpoint) was lost: \(reason)."
    case .authenticationRequired(let endpoint):
      return
        "Redis at \(endpoint) requires a password (NOAUTH); put user:password in REDIS_URL."
    case .authenticationFailed(let endpoint, let user):
      return
        "Redis at \(endpoint) refused the password for user '\(user)' (WRONGPASS), or the user is disabled."
    case .passwordNotExpected(let endpoint):
      return
        "REDIS_URL gives a password, but Redis at \(endpoint) has none set for the default user; name an ACL user or remove the password."
    case .permissionDenied(let command, let user):
      return
        "Redis user '\(user)' is not allowed to run \(command) on these keys (NOPERM); grant it in the user's ACL."
    case .invalidDatabase(let number):
      return "Redis refused to select database \(number); it is out of the server's range."
    case .protocolError(let reason):
      return "Redis sent a reply hiredis could not read: \(reason)."
    case .server(let command, let message):
      return "Redis answered \(command) with an error: \(message)."
    case .unexpectedReply(let command):
      return "Redis answered \(command) with a reply of an unexpected type."
    case .invalidArgument(let reason):
      return "\(reason)."
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .notConfigured, .invalidURL, .tlsUnsupported, .invalidDatabase, .invalidArgument: .usage
    case .connectionRefused, .unreachable, .connectionLost: .unavailable
    case .timeout: .temporaryFailure
    case .authenticationRequired, .authenticationFailed, .passwordNotExpected, .permissionDenied:
      .noPermission
    case .protocolError, .server, .unexpectedReply: .failure
    }
  }
}
