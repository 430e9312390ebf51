import LockstepCore

/// The three answers a login check can give; anything else (a missing database, a bad
/// configuration) is thrown, because it proves nothing about the password.
public enum PostgresLoginOutcome: Sendable, Equatable {
  case accepted
  /// The server rejected the credentials: bad password (28P01) or a refused login (28000).
  case refused(PostgresError)
  /// The server could not be reached, so nothing is known about the password.
  case unreachable(PostgresError)
}

/// The connected user's rights that a rotation depends on (`pg_roles`).
public struct PostgresCapabilities: Sendable, Equatable {
  public let user: String
  public let isSuperuser: Bool
  public let canCreateRole: Bool
  /// Member of `pg_signal_backend`: may end other non-superuser sessions.
  public let canSignalBackends: Bool

  public init(user: String, isSuperuser: Bool, canCreateRole: Bool, canSignalBackends: Bool) {
    self.user = user
    self.isSuperuser = isSuperuser
    self.canCreateRole = canCreateRole
    self.canSignalBackends = canSignalBackends
  }

  /// ALTER ROLE … PASSWORD on another role needs one of these two.
  public var canChangePasswords: Bool { isSuperuser || canCreateRole }

  /// For doctor and preflight: the permission error a rotation would hit, before it runs.
  public func requirePasswordChanges() throws(PostgresError) {
    guard canChangePasswords else {
      throw .permissionDenied(
        action: "change other roles' passwords", user: user,
        detail: "it is neither superuser nor CREATEROLE")
    }
  }
}

public struct PostgresServerInfo: Sendable, Equatable {
  /// `server_version`, e.g. `15.20 (Debian 15.20-0+deb12u1)`.
  public let version: String
  /// `PQserverVersion`, e.g. 150020.
  public let versionNumber: Int
  public let server: String
  public let user: String
  public let database: String
}
