import LockstepCore
import Postgres

/// `DatabaseRoles` on a libpq connection opened from the `PG*` variables (or a given
/// configuration). That login is Lockstep's own and must not be a role the policy rotates.
public final class PostgresRoles: DatabaseRoles {
  let configuration: PostgresConfiguration
  let connection: PostgresConnection

  public init(configuration: PostgresConfiguration = PostgresConfiguration()) throws {
    self.configuration = configuration
    connection = try PostgresConnection(configuration)
  }

  public func setPassword(role: String, password: SecretBytes) throws {
    try connection.setPassword(role: role, secret: password)
  }

  public func terminateSessions(role: String) throws -> Int {
    try connection.terminateSessions(role: role)
  }

  public func verifyLogin(role: String, password: SecretBytes, database: String) -> LoginOutcome {
    var target = configuration
    target.parameters["dbname"] = database
    // Never a login that could send the password in clear (issue 11): libpq 16+ refuses
    // anything but SCRAM itself; older libpq logs in only where the guard proves it safe.
    switch connection.passwordExchangeGuard(role: role, database: database) {
    case .none(let why): return .unreachable("the password was not sent: \(why)")
    case .requireAuth: target.parameters["require_auth"] = "scram-sha-256"
    case .channelBinding, .hbaRules: break
    }
    do {
      switch try PostgresConnection.verifyLogin(target, role: role, secret: password) {
      case .accepted: return .accepted
      case .refused: return .refused
      case .unreachable(let error): return .unreachable(error.description)
      }
    } catch {
      return .unreachable(error.description)
    }
  }

  public func currentUser() throws -> String { try connection.capabilities().user }

  public func canManageRoles() throws -> Bool { try connection.capabilities().canChangePasswords }

  public func profile(role: String) throws -> PostgresRoleProfile? {
    try connection.roleProfile(role)
  }

  public func grant(_ memberships: [PostgresRoleProfile.Membership], to role: String) throws {
    try connection.grant(memberships, to: role)
  }

  public func canSignalBackends() throws -> Bool {
    let rights = try connection.capabilities()
    return rights.isSuperuser || rights.canSignalBackends
  }

  public func databaseExists(_ name: String) throws -> Bool {
    try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [.text(name)]).count == 1
  }

  public func passwordExchangeGuard(role: String, database: String) -> PasswordExchangeGuard {
    connection.passwordExchangeGuard(role: role, database: database)
  }

  public func admission(role: String, database: String) -> PostgresAdmission {
    connection.admission(role: role, database: database)
  }

  public func passwordlessRules(role: String) -> [PasswordlessRule]? {
    connection.passwordlessRules(role: role)
  }
}
