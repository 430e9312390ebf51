import Foundation
import LockstepCore
import Postgres

/// `DatabaseRoles` on a libpq connection opened from the `PG*` variables (or a given
/// configuration). That login is Lockstep's own and must not be a role the policy rotates.
/// libpq blocks, so each call runs on a thread of its own, never on the cooperative pool.
public final class PostgresRoles: DatabaseRoles {
  let configuration: PostgresConfiguration
  let connection: PostgresConnection

  public init(configuration: PostgresConfiguration = PostgresConfiguration()) throws {
    self.configuration = configuration
    connection = try PostgresConnection(configuration)
  }

  /// `body` on the connection, on a thread that may block.
  func blocking<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T)
    async throws -> T
  {
    let connection = connection
    return try await onDedicatedThread { try body(connection) }
  }

  public func setPassword(role: String, password: SecretBytes) async throws {
    try await blocking { try $0.setPassword(role: role, secret: password) }
  }

  public func terminateSessions(role: String) async throws -> Int {
    try await blocking { try $0.terminateSessions(role: role) }
  }

  public func verifyLogin(role: String, password: SecretBytes, database: String) async
    -> LoginOutcome
  {
    var target = configuration
    target.parameters["dbname"] = database
    let login = target
    do {
      return try await blocking { connection in
        // Never a login that could send the password in clear (issue 11): libpq 16+
        // refuses anything but SCRAM itself; older libpq logs in only where the guard
        // proves it safe.
        var login = login
        switch connection.passwordExchangeGuard(role: role, database: database) {
        case .none(let why): return .unreachable("the password was not sent: \(why)")
        case .requireAuth: login.parameters["require_auth"] = "scram-sha-256"
        case .channelBinding, .hbaRules: break
        }
        switch try PostgresConnection.verifyLogin(login, role: role, secret: password) {
        case .accepted: return .accepted
        case .refused: return .refused
        case .unreachable(let error): return .unreachable(error.description)
        }
      }
    } catch {
      return .unreachable("\(error)")
    }
  }

  public func currentUser() async throws -> String {
    try await blocking { try $0.capabilities().user }
  }

  public func canManageRoles() async throws -> Bool {
    try await blocking { try $0.capabilities().canChangePasswords }
  }

  public func profile(role: String) async throws -> PostgresRoleProfile? {
    try await blocking { try $0.roleProfile(role) }
  }

  public func grant(_ memberships: [PostgresRoleProfile.Membership], to role: String)
    async throws
  {
    try await blocking { try $0.grant(memberships, to: role) }
  }

  public func canSignalBackends() async throws -> Bool {
    try await blocking { connection in
      let rights = try connection.capabilities()
      return rights.isSuperuser || rights.canSignalBackends
    }
  }

  public func databaseExists(_ name: String) async throws -> Bool {
    try await blocking {
      try $0.query("SELECT 1 FROM pg_database WHERE datname = $1", [.text(name)]).count == 1
    }
  }

  public func passwordExchangeGuard(role: String, database: String) async
    -> PasswordExchangeGuard
  {
    let connection = connection
    return await Self.unfailing { connection.passwordExchangeGuard(role: role, database: database) }
  }

  public func admission(role: String, database: String) async -> PostgresAdmission {
    let connection = connection
    return await Self.unfailing { connection.admission(role: role, database: database) }
  }

  /// `body`, which cannot fail, on a thread that may block.
  static func unfailing<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      let thread = Thread { continuation.resume(returning: body()) }
      thread.start()
    }
  }
}
