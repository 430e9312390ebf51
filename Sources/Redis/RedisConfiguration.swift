import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// Where and as whom to connect, parsed from `REDIS_URL`.
///
/// Accepted forms (redis-cli's reading of the userinfo, so the runbook's URLs keep working):
/// - `redis://[[user]:password@]host[:port][/db]`, IPv6 hosts in brackets; a userinfo
///   without a colon is a password for the default user, as `redis-cli -u` reads it;
/// - `unix://[[user]:password@]/path/to/redis.sock[?db=N]`;
/// - `rediss://…` is refused: Debian's hiredis 0.14 has no TLS.
/// User and password are percent-decoded; the password goes straight into `SecretBytes`.
public struct RedisConfiguration: Sendable, CustomStringConvertible {
  public enum Endpoint: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// `host:port` or `unix:path`: safe for messages, it never holds credentials.
    public var description: String {
      switch self {
      case .tcp(let host, let port):
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
      case .unix(let path): "unix:\(path)"
      }
    }
  }

  public var endpoint: Endpoint
  public var database: Int
  /// nil (or empty) authenticates as the default user with `AUTH password`.
  public var username: String?
  public var password: SecretBytes?
  /// How long opening the socket may take.
  public var connectTimeout: Duration
  /// How long any one reply may take; a reply that takes longer fails with `.timeout`.
  public var commandTimeout: Duration

  public init(
    endpoint: Endpoint, database: Int = 0, username: String? = nil,
    password: SecretBytes? = nil, connectTimeout: Duration = .seconds(5),
    commandTimeout: Duration = .seconds(30)
  ) {
    self.endpoint = endpoint
    self.database = database
    self.username = username
    self.password = password
    self.connectTimeout = connectTimeout
    self.commandTimeout = commandTimeout
  }

  /// Reads the URL from the process environment (`REDIS_URL`, or the variable a rotation
  /// policy names), so it never has to appear on a command line.
  public static func fromEnvironment(
    variable: String = "REDIS_URL"
  ) throws(RedisError) -> RedisConfiguration {
    guard let pointer = getenv(variable), pointer.pointee != 0 else {
      throw .notConfigured(variable: variable)
    }
    return try RedisConfiguration(url: String(cString: pointer))
  }

  /// The user `AUTH` names, for messages.
  public var effectiveUser: String {
    if let username, !username.isEmpty { return username }
    return "default"
  }

  /// The URL without its password: `redis://user@host:port/db`.
  public var description: String {
    let user = username ?? ""
    let credentials =
      switch (user.isEmpty, password == nil) {
      case (true, true): ""
      case (false, true): "\(user)@"
      case (true, false): "***@"
      case (false, false): "\(user):***@"
      }
    switch endpoint {
    case .tcp:
      return "redis://\(credentials)\(endpoint)/\(database)"
    case .unix(let path):
      return "unix://\(credentials)\(path)?db=\(database)"
    }
  }
}

extension RedisConfiguration {
  /// Parses a Redis URL. Error reasons never quote the URL, which may hold a password.
  public init(url: String) throws(RedisError) {
    let bytes = Array(url.utf8)
    guard let schemeEnd = Self.find(Array("://".utf8), in: bytes) else {
      throw .invalidURL(reason: "it has no scheme; expected redis://host:port/db")
    }
    let scheme = String(decoding: bytes[..<schemeEnd], as: UTF8.self).lowercased()
    let rest = Array(bytes[(schemeEnd + 3)...])
    switch scheme {
    case "redis": self = try Self.parseTCP(rest)
    case "rediss": throw .tlsUnsupported
    case "unix": self = try Self.parseUnix(rest)
    default:
      throw .invalidURL(reason: "the scheme must be redis:// or unix://")
    }
  }

  private static func parseTCP(_ rest: [UInt8]) throws(RedisError) -> RedisConfiguration {
    let authorityEnd =
      rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
      ?? rest.endIndex
    let (username, password, hostPort) = try splitUserinfo(Array(rest[..<authorityEnd]))
    let (host, port) = try splitHostPort(hostPort)
    var database = 0
    var tail = Array(rest[authorityEnd...])
    let queryStart = tail.firstIndex(of: UInt8(ascii: "?"))
    let query = queryStart.map { Array(tail[($0 + 1)...]) } ?? []
    if let queryStart { tail = Array(tail[..<queryStart]) }
    if tail.count > 1 {
      database = try parseDatabase(String(decoding: tail.dropFirst(), as: UTF8.self))
    }
    if let fromQuery = try databaseFromQuery(query) { database = fromQuery }
    return RedisConfiguration(
      endpoint: .tcp(host: host, port: port), database: database, username: username,
      password: password)
  }

  private static func parseUnix(_ rest: [UInt8]) throws(RedisError) -> RedisConfiguration {
    guard let pathStart = rest.firstIndex(of: UInt8(ascii: "/")) else {
      throw .invalidURL(reason: "a unix:// URL needs an absolute socket path (unix:///path)")
    }
    let (username, password, host) = try splitUserinfo(Array(rest[..<pathStart]))
    guard host.isEmpty else {
      throw .invalidURL(reason: "a unix:// URL takes no host (unix:///path/to/redis.sock)")
    }
    var path = Array(rest[pathStart...])
    var query: [UInt8] = []
    if let queryStart = path.firstIndex(of: UInt8(ascii: "?")) {
      query = Array(path[(queryStart + 1)...])
      path = Array(path[..<queryStart])
    }
    guard let decoded = percentDecode(path), path.count > 1 else {
      throw .invalidURL(reason: "the socket path is empty or badly percent-encoded")
    }
    return RedisConfiguration(
      endpoint: .unix(path: String(decoding: decoded, as: UTF8.self)),
      database: try databaseFromQuery(query) ?? 0, username: username, password: password)
  }

  /// Splits `user:password@host` into its parts; the password never becomes a `String`.
  private static func splitUserinfo(
    _ authority: [UInt8]
  ) throws(RedisError) -> (String?, SecretBytes?, [UInt8]) {
    guard let at = authority.lastIndex(of: UInt8(ascii: "@")) else {
      return (nil, nil, authority)
    }
    let userinfo = Array(authority[..<at])
    let host = Array(authority[(at + 1)...])
    var username: String? = nil
    var passwordPart = userinfo[...]
    if let colon = userinfo.firstIndex(of: UInt8(ascii: ":")) {
      guard let user = percentDecode(userinfo[..<colon]) else {
        throw .invalidURL(reason: "the user name is badly percent-encoded")
      }
      username = user.isEmpty ? nil : String(decoding: user, as: UTF8.self)
      passwordPart = userinfo[(colon + 1)...]
    }
    guard var decoded = percentDecode(passwordPart) else {
      throw .invalidURL(reason: "the password is badly percent-encoded")
    }
    let password: SecretBytes? = decoded.isEmpty ? nil : SecretBytes(consuming: &decoded)
    SecretBytes.wipe(&decoded)
    return (username, password, host)
  }

  private static func splitHostPort(_ hostPort: [UInt8]) throws(RedisError) -> (String, Int) {
    var host: [UInt8]
    var portText: [UInt8] = []
    if hostPort.first == UInt8(ascii: "[") {
      guard let close = hostPort.firstIndex(of: UInt8(ascii: "]")) else {
        throw .invalidURL(reason: "an IPv6 host is missing its closing bracket")
      }
      host = Array(hostPort[1..<close])
      let after = hostPort[(close + 1)...]
      if let colon = after.first {
        guard colon == UInt8(ascii: ":") else {
          throw .invalidURL(reason: "unexpected text after the IPv6 host")
        }
        portText = Array(after.dropFirst())
      }
    } else if let colon = hostPort.lastIndex(of: UInt8(ascii: ":")) {
      host = Array(hostPort[..<colon])
      portText = Array(hostPort[(colon + 1)...])
    } else {
      host = hostPort
    }
    guard !host.isEmpty, let decodedHost = percentDecode(host) else {
      throw .invalidURL(reason: "it names no host")
    }
    host = decodedHost
    var port = 6379
    if !portText.isEmpty {
      guard let number = Int(String(decoding: portText, as: UTF8.self)),
        (1...65535).contains(number)
      else { throw .invalidURL(reason: "the port must be a number from 1 to 65535") }
      port = number
    }
    return (String(decoding: host, as: UTF8.self), port)
  }

  private static func parseDatabase(_ text: String) throws(RedisError) -> Int {
    guard let number = Int(text), number >= 0 else {
      throw .invalidURL(reason: "the database must be a number of 0 or more (redis://host:port/0)")
    }
    return number
  }

  private static func databaseFromQuery(_ query: [UInt8]) throws(RedisError) -> Int? {
    var database: Int? = nil
    for pair in query.split(separator: UInt8(ascii: "&")) {
      let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1)
      let name = String(decoding: parts[0], as: UTF8.self)
      if name == "password" {
        throw .invalidURL(
          reason: "a password belongs in the userinfo (user:password@), not in the query")
      }
      if name == "db" {
        database = try parseDatabase(
          parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : "")
      }
    }
    return database
  }

  /// RFC 3986 percent-decoding; nil on a malformed escape. `+` stays a plus.
  static func percentDecode(_ input: some Collection<UInt8>) -> [UInt8]? {
    var output: [UInt8] = []
    output.reserveCapacity(input.count)
    var iterator = input.makeIterator()
    while let byte = iterator.next() {
      guard byte == UInt8(ascii: "%") else {
        output.append(byte)
        continue
      }
      guard let high = iterator.next().flatMap(hexValue),
        let low = iterator.next().flatMap(hexValue)
      else {
        SecretBytes.wipe(&output)
        return nil
      }
      output.append(high << 4 | low)
    }
    return output
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }

  private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for start in 0...(haystack.count - needle.count)
    where haystack[start..<(start + needle.count)].elementsEqual(needle) {
      return start
    }
    return nil
  }
}
