internal import CPQ
import LockstepCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// One libpq connection (`PGconn`), owned by this object and finished in `deinit`.
///
/// Every call blocks the calling thread until the server answers: callers choose where that
/// happens (a CLI command's own thread, a dedicated thread), never the cooperative pool in a
/// loop. The handle sits behind a mutex, so sharing the object across threads is safe and
/// calls run one at a time, which is what a single libpq connection allows.
/// - SeeAlso: https://www.postgresql.org/docs/current/libpq-connect.html
public final class PostgresConnection: Sendable {
  private let handle: Mutex<OpaquePointer?>
  /// `host:port` or the socket path, for messages.
  public let server: String
  /// The role this connection logged in as.
  public let user: String
  public let database: String
  /// `PQserverVersion`: 150020 for 15.20.
  public let serverVersion: Int
  /// Whether the server asked for a password (false under `trust` or `peer`).
  public let usedPassword: Bool

  /// Connects, or throws a classified error after freeing the half-made connection.
  public init(_ configuration: PostgresConfiguration = PostgresConfiguration())
    throws(PostgresError)
  {
    let keywords = try configuration.resolvedKeywords()
    let secrets = configuration.password.map { [$0] } ?? []
    let connection = try Self.start(keywords)
    do {
      try Self.complete(connection, timeout: Self.timeout(keywords, configuration))
    } catch {
      PQfinish(connection)
      throw error
    }
    guard PQstatus(connection) == CONNECTION_OK else {
      let error = PostgresError.connectFailure(connection, secrets: secrets)
      PQfinish(connection)
      throw error
    }
    // Verbose messages were only needed to read SQLSTATEs of a failed login.
    PQsetErrorVerbosity(connection, PQERRORS_DEFAULT)
    // libpq prints server notices (a shutdown WARNING, a pg_terminate_backend time-out) on
    // stderr by default; Lockstep owns its stderr, and errors reach callers as values.
    PQsetNoticeReceiver(connection, { _, _ in }, nil)
    server = PostgresError.serverLabel(connection)
    user = PQuser(connection).map { String(cString: $0) } ?? ""
    database = PQdb(connection).map { String(cString: $0) } ?? ""
    serverVersion = Int(PQserverVersion(connection))
    usedPassword = PQconnectionUsedPassword(connection) == 1
    handle = Mutex(connection)
  }

  deinit {
    close()
  }

  /// Ends the session now instead of when the object goes; idempotent.
  public func close() {
    handle.withLock { connection in
      if let open = connection { PQfinish(open) }
      connection = nil
    }
  }

  /// Runs one statement with `$1`… parameters (PQexecParams: no SQL is built from values)
  /// and copies its rows out before the result is cleared.
  @discardableResult
  public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError)
    -> PostgresRows
  {
    try query(sql, parameters, context: .query(parameters.compactMap(\.secretValue)))
  }

  /// `name` quoted as an SQL identifier by libpq (`PQescapeIdentifier`), for statements
  /// such as `ALTER ROLE` that take no parameters in identifier positions.
  public func quotedIdentifier(_ name: String) throws(PostgresError) -> String {
    try withHandle { connection throws(PostgresError) in
      try Self.escapeIdentifier(name, connection)
    }
  }

  // MARK: - Internals shared with the role operations

  @discardableResult
  func query(_ sql: String, _ parameters: [PostgresValue], context: FailureContext)
    throws(PostgresError) -> PostgresRows
  {
    let values = try CStringArray(parameters.map(\.element))
    defer { values.release() }
    return try withHandle { connection throws(PostgresError) in
      let result = values.pointers.withUnsafeBufferPointer { pointers in
        PQexecParams(
          connection, sql, Int32(pointers.count), nil, pointers.baseAddress, nil, nil, 0)
      }
      return try Self.rows(result, connection: connection, context: context)
    }
  }

  /// Runs `body` with the open handle, holding the lock.
  func withHandle<R: Sendable>(_ body: (OpaquePointer) throws(PostgresError) -> R)
    throws(PostgresError) -> R
  {
    let outcome: Result<R, PostgresError> = handle.withLock { connection in
      guard let open = connection else {
        return .failure(.connectionLost(server: server, detail: "the connection was closed"))
      }
      do throws(PostgresError) { return .success(try body(open)) } catch { return .failure(error) }
    }
    return try outcome.get()
  }

  /// Copies a result into `PostgresRows`, or funnels its error; clears it either way.
  static func rows(_ result: OpaquePointer?, connection: OpaquePointer, context: FailureContext)
    throws(PostgresError) -> PostgresRows
  {
    defer { PQclear(result) }
    guard let result else {
      throw PostgresError.queryFailure(nil, connection: connection, context: context)
    }
    switch PQresultStatus(result) {
    case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
      break
    default:
      throw PostgresError.queryFailure(result, connection: connection, context: context)
    }
    let rowCount = PQntuples(result)
    let columnCount = PQnfields(result)
    let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
    let values = (0..<rowCount).map { row in
      (0..<columnCount).map { column -> String? in
        PQgetisnull(result, row, column) == 1
          ? nil : String(cString: PQgetvalue(result, row, column))
      }
    }
    return PostgresRows(
      columns: columns, values: values,
      commandTag: String(cString: PQcmdStatus(result)),
      affectedRows: Int(String(cString: PQcmdTuples(result))))
  }

  static func escapeIdentifier(_ name: String, _ connection: OpaquePointer)
    throws(PostgresError) -> String
  {
    let length = name.utf8.count
    guard let quoted = PQescapeIdentifier(connection, name, length) else {
      throw PostgresError.queryFailure(nil, connection: connection, context: .query())
    }
    defer { PQfreemem(quoted) }
    return String(cString: quoted)
  }

  // MARK: - Connecting

  private static func start(_ keywords: [(String, KeywordValue)]) throws(PostgresError)
    -> OpaquePointer
  {
    let names = try CStringArray(keywords.map { .text($0.0) }, terminated: true)
    let values = try CStringArray(
      keywords.map {
        switch $0.1 {
        case .text(let text): .text(text)
        case .secret(let secret): .secret(secret)
        }
      }, terminated: true)
    defer {
      names.release()
      values.release()
    }
    let connection = names.pointers.withUnsafeBufferPointer { namePointers in
      values.pointers.withUnsafeBufferPointer { valuePointers in
        PQconnectStartParams(namePointers.baseAddress, valuePointers.baseAddress, 0)
      }
    }
    guard let connection else {
      throw .unreachable(server: "PostgreSQL", reason: "libpq could not allocate a connection")
    }
    // Set before the first poll so a FATAL from the server arrives with its SQLSTATE.
    PQsetErrorVerbosity(connection, PQERRORS_VERBOSE)
    return connection
  }

  /// Drives `PQconnectPoll` with `poll(2)` until success, failure or the deadline.
  private static func complete(_ connection: OpaquePointer, timeout: Duration)
    throws(PostgresError)
  {
    guard PQstatus(connection) != CONNECTION_BAD else { return }
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var state = PGRES_POLLING_WRITING
    while state != PGRES_POLLING_OK && state != PGRES_POLLING_FAILED {
      let socket = PQsocket(connection)
      if socket >= 0 {
        let remaining = deadline - clock.now
        let milliseconds = max(
          0,
          remaining.components.seconds * 1000 + remaining.components.attoseconds
            / 1_000_000_000_000_000)
        var descriptor = pollfd(
          fd: socket, events: Int16(state == PGRES_POLLING_READING ? POLLIN : POLLOUT),
          revents: 0)
        let ready = poll(&descriptor, 1, Int32(min(milliseconds, Int64(Int32.max))))
        if ready == 0 {
          throw .unreachable(
            server: PostgresError.serverLabel(connection),
            reason: "no answer within \(timeout.components.seconds) s")
        }
        if ready < 0 && errno != EINTR {
          throw .unreachable(
            server: PostgresError.serverLabel(connection),
            reason: "poll failed with errno \(errno)")
        }
      }
      state = PQconnectPoll(connection)
    }
  }

  /// `connect_timeout` when configured (libpq's minimum of 2 s), else the configuration's.
  private static func timeout(
    _ keywords: [(String, KeywordValue)], _ configuration: PostgresConfiguration
  ) -> Duration {
    for (key, value) in keywords where key == "connect_timeout" {
      if case .text(let text) = value, let seconds = Int(text), seconds > 0 {
        return .seconds(max(seconds, 2))
      }
    }
    return configuration.connectTimeout
  }
}

extension PostgresValue {
  var element: CStringArray.Element {
    switch self {
    case .null: .null
    case .text(let text): .text(text)
    case .secret(let secret): .secret(secret)
    }
  }

  var secretValue: SecretBytes? {
    if case .secret(let secret) = self { secret } else { nil }
  }
}
