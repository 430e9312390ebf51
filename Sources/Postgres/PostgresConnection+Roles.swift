internal import CPQ
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

extension PostgresConnection {
  public func ping() throws(PostgresError) -> PostgresServerInfo {
    let row = try query(
      "SELECT current_user AS usr, current_database() AS db, "
        + "current_setting('server_version') AS version", [],
      context: .query())[0]
    return PostgresServerInfo(
      version: row["version"] ?? "", versionNumber: serverVersion, server: server,
      user: row["usr"] ?? "", database: row["db"] ?? "")
  }

  public func capabilities() throws(PostgresError) -> PostgresCapabilities {
    let row = try query(
      "SELECT rolname, rolsuper, rolcreaterole, "
        + "pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS signal "
        + "FROM pg_roles WHERE rolname = current_user", [], context: .query())[0]
    return PostgresCapabilities(
      user: row["rolname"] ?? user, isSuperuser: row.bool("rolsuper") ?? false,
      canCreateRole: row.bool("rolcreaterole") ?? false,
      canSignalBackends: row.bool("signal") ?? false)
  }

  public func roleExists(_ role: String) throws(PostgresError) -> Bool {
    try query("SELECT 1 FROM pg_roles WHERE rolname = $1", [.text(role)], context: .query())
      .count == 1
  }

  /// `ALTER ROLE "role" PASSWORD 'SCRAM-SHA-256$4096:…'` with the verifier computed by
  /// `PQencryptPasswordConn`: the server, its log (`log_statement=all`) and
  /// `pg_stat_statements` only ever see the verifier. Every buffer that held the password,
  /// the verifier or the statement is zeroed before it is freed.
  /// - SeeAlso: https://www.postgresql.org/docs/current/libpq-misc.html#LIBPQ-PQENCRYPTPASSWORDCONN
  public func setPassword(role: String, secret: SecretBytes) throws(PostgresError) {
    guard !role.isEmpty else { throw .invalidConfiguration("the role name is empty") }
    guard !secret.isEmpty else {
      throw .invalidConfiguration("the new password for role \"\(role)\" is empty")
    }
    let context = FailureContext(
      action: "change the password of role \"\(role)\"", role: role,
      privilegeHint: "that needs superuser or CREATEROLE", secrets: [secret])
    let password = try CStringArray([.secret(secret)])
    defer { password.release() }
    try withHandle { connection throws(PostgresError) in
      guard
        let verifier = PQencryptPasswordConn(
          connection, password.pointers[0], role, "scram-sha-256")
      else {
        throw PostgresError.queryFailure(nil, connection: connection, context: context)
      }
      let literal = PQescapeLiteral(connection, verifier, strlen(verifier))
      explicit_bzero(verifier, strlen(verifier))
      PQfreemem(verifier)
      guard let literal else {
        throw PostgresError.queryFailure(nil, connection: connection, context: context)
      }
      var statement = Array(
        "ALTER ROLE \(try Self.escapeIdentifier(role, connection)) PASSWORD ".utf8CString.dropLast()
      )
      let literalLength = strlen(literal)
      statement.append(contentsOf: UnsafeBufferPointer(start: literal, count: literalLength))
      statement.append(0)
      explicit_bzero(literal, literalLength)
      PQfreemem(literal)
      defer { statement.withUnsafeMutableBytes { explicit_bzero($0.baseAddress!, $0.count) } }
      let result = PQexecParams(connection, statement, 0, nil, nil, nil, nil, 0)
      _ = try Self.rows(result, connection: connection, context: context)
    }
  }

  /// `pg_terminate_backend` for every session of `role` except this one. On PostgreSQL 14
  /// and later it waits (up to 5 s each) until the backend has exited, so a login check
  /// that follows sees the sessions gone.
  public func terminateSessions(role: String) throws(PostgresError) -> Int {
    guard try roleExists(role) else { throw .roleMissing(role: role) }
    let wait = serverVersion >= 140_000 ? ", 5000" : ""
    let context = FailureContext(
      action: "end the sessions of role \"\(role)\"", role: role,
      privilegeHint: "that needs superuser or membership in pg_signal_backend (and "
        + "superuser for a superuser's sessions)")
    let rows = try query(
      "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid\(wait))) AS ended "
        + "FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
      [.text(role)], context: context)
    return rows.first?.int("ended") ?? 0
  }

  /// A fresh login as `role` on this connection's server, database and TLS settings (from
  /// `PQconninfo`), with `secret` as the only password libpq may use.
  public func verifyLogin(role: String, secret: SecretBytes) throws(PostgresError)
    -> PostgresLoginOutcome
  {
    try Self.verifyLogin(loginConfiguration(), role: role, secret: secret)
  }

  /// The same check from a configuration, without an open connection.
  public static func verifyLogin(
    _ configuration: PostgresConfiguration, role: String, secret: SecretBytes
  ) throws(PostgresError) -> PostgresLoginOutcome {
    guard !secret.isEmpty else {
      throw .invalidConfiguration("the password to check for role \"\(role)\" is empty")
    }
    var target = configuration
    target.parameters["user"] = role
    target.parameters["password"] = nil
    target.password = secret
    do throws(PostgresError) {
      let connection = try PostgresConnection(target)
      defer { connection.close() }
      guard connection.usedPassword else {
        throw PostgresError.passwordNotChecked(role: role, server: connection.server)
      }
      return .accepted
    } catch {
      switch error {
      case .badPassword, .loginRejected, .passwordRequired: return .refused(error)
      case .unreachable, .connectionLost, .tlsFailed: return .unreachable(error)
      default: throw error
      }
    }
  }

  /// This connection's effective settings without its credentials.
  func loginConfiguration() throws(PostgresError) -> PostgresConfiguration {
    let parameters = try withHandle { connection throws(PostgresError) -> [String: String] in
      guard let options = PQconninfo(connection) else {
        throw PostgresError.queryFailure(nil, connection: connection, context: .query())
      }
      defer { LibpqOptions.free(options) }
      var result: [String: String] = [:]
      var cursor = options
      while let keyword = cursor.pointee.keyword {
        let name = String(cString: keyword)
        if let value = cursor.pointee.val, value.pointee != 0,
          !["user", "password", "passfile", "service"].contains(name)
        {
          result[name] = String(cString: value)
        }
        cursor += 1
      }
      return result
    }
    return PostgresConfiguration(environment: [:], parameters: parameters)
  }
}
