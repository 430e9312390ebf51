import LockstepCore

/// Everything that can go wrong talking to PostgreSQL, as cases a caller can match on.
///
/// Server errors are classified by SQLSTATE, not by message text, so the classification
/// holds whatever `lc_messages` the server runs with. `description` is the one sentence a
/// user sees: it names the server (`host:port` or socket) and the role or database at fault,
/// and never a password, a verifier or a conninfo `password=` value.
public enum PostgresError: LockstepError, Equatable {
  /// Nothing answered: connection refused, no socket file, unknown host name, time-out.
  case unreachable(server: String, reason: String)
  /// The server rejected the password (SQLSTATE 28P01).
  case badPassword(role: String, server: String)
  /// The server asked for a password and none was given (no `PGPASSWORD`, passfile entry
  /// or secret).
  case passwordRequired(role: String, server: String)
  /// The server refused the login for a reason other than the password (SQLSTATE 28000:
  /// no pg_hba.conf entry, peer authentication, `NOLOGIN`).
  case loginRejected(role: String, server: String, detail: String)
  /// The client demanded TLS (`sslmode=require` or stricter) and the server does not offer
  /// it, or the TLS handshake or certificate check failed.
  case tlsFailed(server: String, detail: String)
  /// SQLSTATE 3D000.
  case databaseMissing(database: String, server: String)
  /// SQLSTATE 42704 for a role this module was asked to act on.
  case roleMissing(role: String)
  /// SQLSTATE 42501: the connected user lacks the privilege (superuser, CREATEROLE,
  /// pg_signal_backend) that `action` needs.
  case permissionDenied(action: String, user: String, detail: String)
  /// An open connection broke: the server stopped, or an administrator terminated it.
  case connectionLost(server: String, detail: String)
  /// The login succeeded without the server asking for the password (a `trust` line in
  /// pg_hba.conf), so the password could not be checked.
  case passwordNotChecked(role: String, server: String)
  /// A conninfo, service file or parameter Lockstep was given cannot be used.
  case invalidConfiguration(String)
  /// Any other server error, with its SQLSTATE and the server's (scrubbed) message.
  case server(sqlState: String, message: String)

  /// The SQLSTATE the server reported, where the case implies one.
  public var sqlState: String? {
    switch self {
    case .badPassword: "28P01"
    case .loginRejected: "28000"
    case .databaseMissing: "3D000"
    case .roleMissing: "42704"
    case .permissionDenied: "42501"
    case .server(let sqlState, _): sqlState
    default: nil
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .unreachable, .connectionLost, .tlsFailed: .unavailable
    case .badPassword, .passwordRequired, .loginRejected, .permissionDenied, .passwordNotChecked:
      .noPermission
    case .invalidConfiguration: .usage
    case .databaseMissing, .roleMissing, .server: .failure
    }
  }

  public var description: String {
    switch self {
    case .unreachable(let server, let reason):
      "Cannot reach PostgreSQL at \(server): \(reason)."
    case .badPassword(let role, let server):
      "PostgreSQL at \(server) refused the password for role \"\(role)\"."
    case .passwordRequired(let role, let server):
      "PostgreSQL at \(server) asked for a password for role \"\(role)\" and none was "
        + "supplied (set PGPASSWORD or PGPASSFILE, or use a service file)."
    case .loginRejected(let role, let server, let detail):
      "PostgreSQL at \(server) rejected the login of role \"\(role)\": \(detail)."
    case .tlsFailed(let server, let detail):
      "TLS with PostgreSQL at \(server) failed: \(detail)."
    case .databaseMissing(let database, let server):
      "Database \"\(database)\" does not exist on PostgreSQL at \(server)."
    case .roleMissing(let role):
      "Role \"\(role)\" does not exist in PostgreSQL."
    case .permissionDenied(let action, let user, let detail):
      "PostgreSQL user \"\(user)\" may not \(action): \(detail)."
    case .connectionLost(let server, let detail):
      "The connection to PostgreSQL at \(server) was lost: \(detail)."
    case .passwordNotChecked(let role, let server):
      "PostgreSQL at \(server) let role \"\(role)\" in without checking a password "
        + "(a trust line in pg_hba.conf?), so the password cannot be verified."
    case .invalidConfiguration(let reason):
      "The PostgreSQL connection settings are not usable: \(reason)."
    case .server(let sqlState, let message):
      sqlState.isEmpty
        ? "PostgreSQL reported an error: \(message)."
        : "PostgreSQL reported an error (SQLSTATE \(sqlState)): \(message)."
    }
  }
}
