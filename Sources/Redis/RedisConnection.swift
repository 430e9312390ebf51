internal import CHiredis
import LockstepCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// hiredis' connection handle, named for what it is.
typealias HiredisContext = UnsafeMutablePointer<redisContext>

/// One blocking connection to Redis, authenticated and on the database `REDIS_URL` names.
///
/// Every call blocks the calling thread until the reply arrives or `commandTimeout` passes;
/// callers that live on the cooperative pool should move it to a thread of their own.
/// Commands are always sent as binary-safe argument vectors (`redisCommandArgv`), never
/// through hiredis' printf-style formatter, so a key or password is never parsed as format.
///
/// `@unchecked Sendable`: the hiredis context is only touched while holding `lock`, and
/// hiredis allows a context to be used from any thread, one at a time.
public final class RedisConnection: @unchecked Sendable {
  private let context: HiredisContext
  private let lock = Mutex(())
  /// `host:port` or `unix:path`, never with credentials: for messages.
  public let endpoint: String
  /// The ACL user the connection authenticated as (`default` without a user name).
  public let user: String
  public let database: Int

  /// Connects, authenticates (`AUTH user password`, or `AUTH password` for the default
  /// user) and selects the database. The context is freed on every failure path.
  public init(_ configuration: RedisConfiguration) throws(RedisError) {
    endpoint = configuration.endpoint.description
    user = configuration.effectiveUser
    database = configuration.database
    context = try Self.open(configuration)
  }

  /// Connects with the configuration in `REDIS_URL`.
  public convenience init() throws(RedisError) {
    try self.init(RedisConfiguration.fromEnvironment())
  }

  deinit {
    redisFree(context)
  }

  /// Sends one command and returns its reply; an error reply is thrown as `RedisError`.
  @discardableResult
  public func command(_ arguments: [RedisArgument]) throws(RedisError) -> RedisReply {
    try lock.withLock { _ throws(RedisError) -> RedisReply in
      try Self.send(arguments, on: context, endpoint: endpoint, user: user)
    }
  }

  @discardableResult
  public func command(_ arguments: RedisArgument...) throws(RedisError) -> RedisReply {
    try command(arguments)
  }

  /// Sends all commands before reading any reply (one round trip instead of one per
  /// command). Every reply is read even when one is an error, so the connection stays in
  /// step; the first error reply is then thrown.
  @discardableResult
  public func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [RedisReply] {
    try lock.withLock { _ throws(RedisError) -> [RedisReply] in
      try Self.pipeline(commands, on: context, endpoint: endpoint, user: user)
    }
  }

  /// Round-trip time of a `PING`.
  @discardableResult
  public func ping() throws(RedisError) -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    let reply = try command("PING")
    guard reply == .status("PONG") else { throw .unexpectedReply(command: "PING") }
    return clock.now - start
  }
}

// MARK: - hiredis calls (the only code that touches the context)

extension RedisConnection {
  private static func open(_ configuration: RedisConfiguration) throws(RedisError)
    -> HiredisContext
  {
    let endpoint = configuration.endpoint.description
    let connectTimeout = timeval(configuration.connectTimeout)
    let opened: HiredisContext? =
      switch configuration.endpoint {
      case .tcp(let host, let port): redisConnectWithTimeout(host, Int32(port), connectTimeout)
      case .unix(let path): redisConnectUnixWithTimeout(path, connectTimeout)
      }
    guard let context = opened else {
      throw .protocolError(reason: "hiredis could not allocate a connection")
    }
    do throws(RedisError) {
      if context.pointee.err != 0 {
        throw contextFailure(context, endpoint: endpoint, connecting: true)
      }
      if redisSetTimeout(context, timeval(configuration.commandTimeout)) != REDIS_OK {
        throw contextFailure(context, endpoint: endpoint, connecting: true)
      }
      let user = configuration.effectiveUser
      if let password = configuration.password {
        var auth: [RedisArgument] = ["AUTH"]
        if let name = configuration.username, !name.isEmpty { auth.append(RedisArgument(name)) }
        auth.append(.secret(password))
        try send(auth, on: context, endpoint: endpoint, user: user)
      }
      if configuration.database != 0 {
        do throws(RedisError) {
          try send(
            ["SELECT", RedisArgument(configuration.database)], on: context, endpoint: endpoint,
            user: user)
        } catch .server(_, let message) where message.contains("out of range") {
          throw .invalidDatabase(configuration.database)
        }
      }
      return context
    } catch {
      redisFree(context)
      throw error
    }
  }

  @discardableResult
  static func send(
    _ arguments: [RedisArgument], on context: HiredisContext, endpoint: String, user: String
  ) throws(RedisError) -> RedisReply {
    let raw = withArgumentVector(arguments) { argc, argv, lengths in
      redisCommandArgv(context, argc, argv, lengths)
    }
    guard let raw else { throw contextFailure(context, endpoint: endpoint, connecting: false) }
    let reply = raw.assumingMemoryBound(to: redisReply.self)
    defer { freeReplyObject(raw) }
    return try topLevel(reply, command: commandName(arguments), endpoint: endpoint, user: user)
  }

  static func pipeline(
    _ commands: [[RedisArgument]], on context: HiredisContext, endpoint: String, user: String
  ) throws(RedisError) -> [RedisReply] {
    for arguments in commands {
      let status = withArgumentVector(arguments) { argc, argv, lengths in
        redisAppendCommandArgv(context, argc, argv, lengths)
      }
      if status != REDIS_OK { throw contextFailure(context, endpoint: endpoint, connecting: false) }
    }
    var replies: [RedisReply] = []
    replies.reserveCapacity(commands.count)
    var firstError: RedisError? = nil
    for arguments in commands {
      var raw: UnsafeMutableRawPointer? = nil
      guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
        throw contextFailure(context, endpoint: endpoint, connecting: false)
      }
      defer { freeReplyObject(raw) }
      let reply = raw.assumingMemoryBound(to: redisReply.self)
      do throws(RedisError) {
        replies.append(
          try topLevel(reply, command: commandName(arguments), endpoint: endpoint, user: user))
      } catch {
        if firstError == nil { firstError = error }
        replies.append(copy(reply))
      }
    }
    if let firstError { throw firstError }
    return replies
  }

  /// Lays all arguments out in one scratch buffer for hiredis, which copies them into its
  /// output buffer; the scratch copy is wiped afterwards because it may hold a secret.
  private static func withArgumentVector<R>(
    _ arguments: [RedisArgument],
    _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
  ) -> R {
    let total = arguments.reduce(0) { $0 + $1.count }
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
    defer {
      explicit_bzero(scratch.baseAddress!, scratch.count)
      scratch.deallocate()
    }
    var pointers: [UnsafePointer<CChar>?] = []
    var lengths: [Int] = []
    pointers.reserveCapacity(arguments.count)
    lengths.reserveCapacity(arguments.count)
    var offset = 0
    for argument in arguments {
      let slice = UnsafeMutableRawBufferPointer(
        rebasing: scratch[offset..<(offset + argument.count)])
      argument.copy(into: slice)
      pointers.append(
        UnsafePointer(
          scratch.baseAddress!.advanced(by: offset)
            .assumingMemoryBound(to: CChar.self)))
      lengths.append(argument.count)
      offset += argument.count
    }
    return pointers.withUnsafeMutableBufferPointer { argv in
      lengths.withUnsafeBufferPointer {
        body(Int32(arguments.count), argv.baseAddress!, $0.baseAddress!)
      }
    }
  }

  /// The command's name for messages: the first argument, which is never a secret.
  private static func commandName(_ arguments: [RedisArgument]) -> String {
    guard let first = arguments.first, case .bytes(let bytes) = first.storage else {
      return "the command"
    }
    return String(decoding: bytes, as: UTF8.self).uppercased()
  }

  private static func topLevel(
    _ reply: UnsafeMutablePointer<redisReply>, command: String, endpoint: String, user: String
  ) throws(RedisError) -> RedisReply {
    let copied = copy(reply)
    if case .error(let message) = copied {
      throw serverFailure(message, command: command, endpoint: endpoint, user: user)
    }
    return copied
  }

  /// Copies a hiredis reply tree into Swift values; the caller frees the C tree.
  private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
    let node = reply.pointee
    switch node.type {
    case LOCKSTEP_REDIS_REPLY_STRING:
      return .bulk(bytes(node.str, node.len))
    case LOCKSTEP_REDIS_REPLY_STATUS:
      return .status(String(decoding: bytes(node.str, node.len), as: UTF8.self))
    case LOCKSTEP_REDIS_REPLY_ERROR:
      return .error(String(decoding: bytes(node.str, node.len), as: UTF8.self))
    case LOCKSTEP_REDIS_REPLY_INTEGER:
      return .integer(Int64(node.integer))
    case LOCKSTEP_REDIS_REPLY_ARRAY:
      var elements: [RedisReply] = []
      elements.reserveCapacity(node.elements)
      for index in 0..<node.elements {
        if let element = node.element[index] { elements.append(copy(element)) }
      }
      return .array(elements)
    default:
      return .null
    }
  }

  private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> [UInt8] {
    guard let pointer, length > 0 else { return [] }
    return Array(UnsafeRawBufferPointer(start: pointer, count: length))
  }

  private static func timeval(_ duration: Duration) -> Glibc.timeval {
    let (seconds, attoseconds) = duration.components
    return Glibc.timeval(
      tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
  }
}
