internal import CPQ
import LockstepCore

/// What a failing call was doing, so one funnel can name the role and the missing right.
struct FailureContext {
  /// Completes "PostgreSQL user "u" may not …".
  var action: String
  /// The role the call acts on: SQLSTATE 42704 then means this role is missing.
  var role: String?
  /// Appended to a permission error: which privilege the action needs.
  var privilegeHint: String?
  /// Secrets that must not appear in any message.
  var secrets: [SecretBytes] = []

  static func query(_ secrets: [SecretBytes] = []) -> FailureContext {
    FailureContext(action: "run this statement", secrets: secrets)
  }
}

/// The one place libpq statuses become `PostgresError`s.
extension PostgresError {
  /// `host:port`, or the socket path, of the server a connection is (or was) talking to.
  static func serverLabel(_ connection: OpaquePointer) -> String {
    let host = PQhost(connection).map { String(cString: $0) } ?? ""
    let port = PQport(connection).map { String(cString: $0) } ?? ""
    if host.isEmpty { return "the default socket, port \(port.isEmpty ? "5432" : port)" }
    if host.hasPrefix("/") { return "socket \(host)/.s.PGSQL.\(port)" }
    return "\(host):\(port)"
  }

  /// Classifies a failed connection attempt. libpq keeps no PGresult for these, so the
  /// SQLSTATE comes from the message, which the connection built with
  /// `PQERRORS_VERBOSE` (`FATAL:  28P01: …`): stable whatever the server's language.
  static func connectFailure(_ connection: OpaquePointer, secrets: [SecretBytes])
    -> PostgresError
  {
    let server = serverLabel(connection)
    let role = PQuser(connection).map { String(cString: $0) } ?? ""
    let database = PQdb(connection).map { String(cString: $0) } ?? ""
    let message = PQerrorMessage(connection).map { String(cString: $0) } ?? ""
    let clean = { (text: Substring) in PostgresScrubber.scrub(String(text), secrets: secrets) }

    if let reported = serverReported(message) {
      switch reported.sqlState {
      case "28P01": return .badPassword(role: role, server: server)
      case "28000":
        // pg_hba.conf's own words: "pg_hba.conf rejects connection for host …, no
        // encryption" is a `reject` line, "no pg_hba.conf entry for host …" no line at all.
        // Both end with the connection's encryption state, which says nothing about TLS
        // being required, so neither is reported as a TLS problem.
        if reported.text.contains("pg_hba.conf rejects connection") {
          return .loginRejected(
            role: role, server: server,
            detail: "a pg_hba.conf line rejects this role and database from this host")
        }
        if reported.text.contains("no pg_hba.conf entry") {
          return .loginRejected(
            role: role, server: server,
            detail:
              "no pg_hba.conf line admits this role and database from this host with this connection's encryption (if only a hostssl line would, set PGSSLMODE=require)"
          )
        }
        return .loginRejected(role: role, server: server, detail: clean(reported.text))
      case "3D000": return .databaseMissing(database: database, server: server)
      case "57P03": return .unreachable(server: server, reason: clean(reported.text))
      default: return .server(sqlState: reported.sqlState, message: clean(reported.text))
      }
    }

    let firstLine = message.split(separator: "\n").first ?? "unknown error"
    let detail =
      firstLine.range(of: "failed: ").map { firstLine[$0.upperBound...] } ?? firstLine
    switch detail {
    case _
    where detail.hasPrefix("invalid ") || detail.hasPrefix("missing ")
      || detail.hasPrefix("definition of service"):
      return .invalidConfiguration(clean(detail))
    case _ where detail.contains("Connection refused"):
      return .unreachable(
        server: server,
        reason: "connection refused (is the server running and accepting TCP connections?)")
    case _ where detail.contains("No such file or directory"):
      return .unreachable(server: server, reason: "no server is listening on that socket")
    case _ where detail.contains("could not translate host name"):
      return .unreachable(server: server, reason: "the host name does not resolve")
    case _ where detail.contains("timeout expired"):
      return .unreachable(server: server, reason: "the connection attempt timed out")
    case _ where detail.contains("no password supplied"):
      return .passwordRequired(role: role, server: server)
    case _ where detail.contains("does not support SSL"):
      return .tlsFailed(
        server: server, detail: "the server does not offer TLS and sslmode demands it")
    case _ where detail.contains("SSL") || detail.contains("certificate"):
      return .tlsFailed(server: server, detail: clean(detail))
    default:
      return .unreachable(server: server, reason: clean(detail))
    }
  }

  /// Classifies a failed statement (`result` may be nil when libpq could not allocate one
  /// or the connection is gone).
  static func queryFailure(
    _ result: OpaquePointer?, connection: OpaquePointer, context: FailureContext
  ) -> PostgresError {
    let server = serverLabel(connection)
    let field = { (code: Character) -> String? in
      guard let result, let value = PQresultErrorField(result, Int32(code.asciiValue!)) else {
        return nil
      }
      return String(cString: value)
    }
    let sqlState = field("C") ?? ""
    let primary = PostgresScrubber.scrub(
      field("M")
        ?? (PQerrorMessage(connection).map { String(cString: $0) } ?? "unknown error")
        .split(separator: "\n").first.map(String.init) ?? "unknown error",
      secrets: context.secrets)

    if PQstatus(connection) == CONNECTION_BAD || sqlState.hasPrefix("08")
      || sqlState.hasPrefix("57P")
    {
      let detail =
        sqlState == "57P01"
        ? "an administrator terminated the session" : primary
      return .connectionLost(server: server, detail: detail)
    }
    switch sqlState {
    case "42704" where context.role != nil:
      return .roleMissing(role: context.role!)
    case "42501":
      let user = PQuser(connection).map { String(cString: $0) } ?? ""
      let detail = context.privilegeHint.map { "\(primary); \($0)" } ?? primary
      return .permissionDenied(action: context.action, user: user, detail: detail)
    default:
      return .server(sqlState: sqlState, message: primary)
    }
  }

  /// The last `SEVERITY:  SQLSTATE: text` line of a verbose libpq message.
  private static func serverReported(_ message: String) -> (sqlState: String, text: Substring)? {
    var found: (String, Substring)?
    for line in message.split(separator: "\n") {
      for severity in ["FATAL:  ", "ERROR:  ", "PANIC:  "] {
        guard let start = line.range(of: severity) else { continue }
        let rest = line[start.upperBound...]
        let code = rest.prefix(5)
        guard code.count == 5, code.allSatisfy({ $0.isUppercase || $0.isNumber }),
          rest.dropFirst(5).hasPrefix(": ")
        else { continue }
        found = (String(code), rest.dropFirst(7))
      }
    }
    return found
  }
}
