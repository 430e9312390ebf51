import LockstepCore
import Postgres

/// `targets.postgres`: a PostgreSQL login role whose password is a rotated key. Apply sets
/// it from a client-side SCRAM verifier (and ends the role's other sessions), verify logs in
/// with the new password and, in `strategy: single`, proves the old one refused. With
/// `strategy: alternating` it is a pair of roles used in turn
/// (PostgresRoleTarget+Alternating.swift).
public struct PostgresRoleTarget: RotationTarget, Equatable {
  public var role: String
  /// The rotated key whose new value becomes the role's password.
  public var passwordKey: String
  public var terminateSessions: Bool
  /// Database used to prove the new password logs in (and the old one is refused).
  public var verifyDatabase: String
  /// For `strategy: alternating`: the second role used in turn.
  public var alternateRole: String?
  /// For `strategy: alternating`: the key of the live secret that names the role the
  /// application logs in as; a rotation sets it to the other role of the pair.
  public var userKey: String?

  public init(
    role: String, passwordKey: String, terminateSessions: Bool = true,
    verifyDatabase: String = "postgres", alternateRole: String? = nil, userKey: String? = nil
  ) {
    self.role = role
    self.passwordKey = passwordKey
    self.terminateSessions = terminateSessions
    self.verifyDatabase = verifyDatabase
    self.alternateRole = alternateRole
    self.userKey = userKey
  }

  static let system = "PostgreSQL"

  // MARK: policy

  public static let section = "postgres"

  public static func parse(_ node: PolicyNode) throws(PolicyError) -> PostgresRoleTarget {
    let fields = try node.fields(allowed: [
      "role", "password_key", "terminate_sessions", "verify_database", "alternate_role",
      "user_key",
    ])
    return PostgresRoleTarget(
      role: try fields.required("role").string(),
      passwordKey: try RotationPolicy.keyName(try fields.required("password_key")),
      terminateSessions: try fields["terminate_sessions"]?.bool() ?? true,
      verifyDatabase: try fields["verify_database"]?.string() ?? "postgres",
      alternateRole: try fields["alternate_role"]?.string(),
      userKey: try fields["user_key"].map { node throws(PolicyError) in
        try RotationPolicy.keyName(node)
      })
  }

  public var label: String { "postgres role \(role)" }
  public func appliedKeys(in policy: RotationPolicy) -> [String] { [passwordKey] }
  public var id: String { role }

  public func validate(in policy: RotationPolicy, file: String) throws(PolicyError) {
    let rotated = Set(policy.rotate.map(\.key))
    if policy.strategy == .alternating {
      guard let alternate = alternateRole, let userKey else {
        throw PolicyError(
          file, nil,
          "strategy alternating needs alternate_role and user_key for postgres role \(role)")
      }
      guard alternate != role else {
        throw PolicyError(
          file, nil, "postgres role \(role): alternate_role must be a different role")
      }
      guard !rotated.contains(userKey) && !policy.derive.contains(where: { $0.key == userKey })
      else {
        throw PolicyError(
          file, nil,
          "postgres role \(role): user_key \(userKey) names the role, so it cannot also be rotated or derived"
        )
      }
    } else if alternateRole != nil || userKey != nil {
      throw PolicyError(
        file, nil, "postgres role \(role): alternate_role and user_key need strategy: alternating")
    }
    guard rotated.contains(passwordKey) else {
      throw PolicyError(
        file, nil,
        "targets.postgres role \(role): password_key \(passwordKey) is not a rotated key")
    }
  }

  /// The key naming the login role, which `strategy: alternating` switches each time.
  public func changedKeys(in policy: RotationPolicy) -> [String] {
    policy.strategy == .alternating ? userKey.map { [$0] } ?? [] : []
  }

  public func stage(_ context: StageContext) throws -> [String: SecretBytes] {
    guard context.policy.strategy == .alternating, let userKey else { return [:] }
    guard let inUse = roleInUse(live: context.live) else {
      throw RotationError.stepFailed(
        step: "stage", reason: "the live secret does not name a role of the pair")
    }
    return [userKey: SecretBytes(utf8: partner(of: inUse))]
  }

  /// The role whose password this rotation changes: for `alternating`, the one staged in
  /// `user_key`; otherwise `role`.
  func rotatedRole(_ policy: RotationPolicy, staged: [String: SecretBytes]) -> String {
    guard policy.strategy == .alternating, let userKey,
      let name = staged[userKey]?.unsafeUTF8String()
    else { return role }
    return name
  }

  // MARK: preflight

  public func requirements(in policy: RotationPolicy) -> [PreflightRequirement] {
    let roles = [role] + (alternateRole.map { [$0] } ?? [])
    var needs = [
      PreflightRequirement(
        system: Self.system, name: "PostgreSQL rights",
        need: .described("the login may change other roles' passwords (superuser or CREATEROLE)"))
    ]
    if terminateSessions {
      needs.append(
        PreflightRequirement(
          system: Self.system, name: "PostgreSQL end sessions",
          need: .described("the login may end other roles' sessions (pg_signal_backend)")))
    }
    needs.append(
      PreflightRequirement(
        system: Self.system, name: "PostgreSQL database \(verifyDatabase)",
        need: .described("database \(verifyDatabase) exists (the new password is verified there)")
      ))
    for name in roles {
      needs.append(
        PreflightRequirement(
          system: Self.system, name: "PostgreSQL role \(name)",
          need: .described(
            "role \(name) exists, is not the login Lockstep uses, and pg_hba.conf admits it to \(verifyDatabase) with a challenge and has no trust line that lets it in from elsewhere"
          )))
    }
    return needs
  }

  public func preflight(_ context: PreflightContext) async -> [PreflightCheck] {
    let system = Self.system
    guard let database = context.services.database else {
      return [
        .fail(
          system, "PostgreSQL login",
          "the policy has PostgreSQL targets but no PostgreSQL connection is configured")
      ]
    }
    var checks: [PreflightCheck] = []
    do {
      let user = try await database.currentUser()
      let rotated = [role] + (alternateRole.map { [$0] } ?? [])
      if rotated.contains(user) {
        var check = PreflightCheck.fail(
          system, "PostgreSQL own login",
          "the policy rotates PostgreSQL role \(user), the role Lockstep itself logs in as")
        check.ownCredential = true
        check.detail = "PostgreSQL role \(user)"
        checks.append(check)
      } else {
        checks.append(
          .pass(system, "PostgreSQL own login", "\(user) is not among the rotated roles"))
      }
      checks.append(
        try await database.canManageRoles()
          ? .pass(system, "PostgreSQL rights", "\(user) may change passwords")
          : .fail(
            system, "PostgreSQL rights",
            "PostgreSQL login \(user) is neither superuser nor CREATEROLE, so it may not change other roles' passwords"
          ))
      if terminateSessions {
        checks.append(
          try await database.canSignalBackends()
            ? .pass(system, "PostgreSQL end sessions", "\(user) may end other roles' sessions")
            : .fail(
              system, "PostgreSQL end sessions",
              "PostgreSQL login \(user) may not end the rotated roles' sessions (terminate_sessions): grant it pg_signal_backend"
            ))
      }
      checks += try await roleChecks(database, context)
      if context.policy.strategy == .alternating {
        checks += try await pairChecks(database, context)
      }
    } catch {
      checks.append(.fail(system, "PostgreSQL login", "PostgreSQL: \(error)"))
    }
    return checks
  }

  func roleChecks(_ database: any DatabaseRoles, _ context: PreflightContext) async throws
    -> [PreflightCheck]
  {
    let system = Self.system
    guard try await database.databaseExists(verifyDatabase) else {
      return [
        .fail(
          system, "PostgreSQL database \(verifyDatabase)",
          "PostgreSQL database \(verifyDatabase) (verify_database of role \(role)) does not exist"
        )
      ]
    }
    var checks: [PreflightCheck] = [
      .pass(
        system, "PostgreSQL database \(verifyDatabase)",
        "exists (the new password is verified there)")
    ]
    for name in [role] + (alternateRole.map { [$0] } ?? []) {
      let label = "PostgreSQL role \(name)"
      guard try await database.profile(role: name) != nil else {
        checks.append(
          .fail(
            system, label,
            "PostgreSQL role \"\(name)\" named by the policy does not exist (a typo? fix the policy, then run again)"
          ))
        continue
      }
      checks.append(.pass(system, label, "exists"))
      checks.append(await loginCheck(name, database, context))
      checks.append(await trustCheck(name, database))
    }
    return checks
  }

  /// No pg_hba.conf line lets the role in without a password from some other host: from
  /// there the leaked password would keep working, and "the old password is refused" would
  /// be false (issue 17).
  func trustCheck(_ name: String, _ database: any DatabaseRoles) async -> PreflightCheck {
    let label = "PostgreSQL password-free logins of \(name)"
    guard let rules = await database.passwordlessRules(role: name) else {
      return .pass(Self.system, label, "not looked for: pg_hba_file_rules cannot be read")
    }
    guard let rule = rules.first else {
      return .pass(Self.system, label, "none: every TCP login of \(name) checks a password")
    }
    return .fail(
      Self.system, label,
      "pg_hba.conf line \(rule.line) lets role \(name) in from \(rule.clients) with trust, which checks no password, so the old password (or any other) would still log in from there after the rotation; change that line's method to scram-sha-256 and reload PostgreSQL first"
    )
  }

  /// The role can log in to verify_database from here, with a login that cannot reveal a
  /// password: else `ALTER ROLE` would succeed and verify fail, the application locked out.
  func loginCheck(_ name: String, _ database: any DatabaseRoles, _ context: PreflightContext)
    async -> PreflightCheck
  {
    let system = Self.system
    let label = "PostgreSQL login of \(name) to \(verifyDatabase)"
    let admission = await database.admission(role: name, database: verifyDatabase)
    switch admission {
    case .reject(let line):
      return .fail(
        system, label,
        "pg_hba.conf line \(line) rejects role \(name) on database \(verifyDatabase) from this host, so the new password could never be verified; fix pg_hba.conf first"
      )
    case .noRule:
      return .fail(
        system, label,
        "no pg_hba.conf line admits role \(name) on database \(verifyDatabase) from this host, so the new password could never be verified"
      )
    default: break
    }
    let guardrail = await database.passwordExchangeGuard(role: name, database: verifyDatabase)
    if case .none(let why) = guardrail {
      return .fail(
        system, label, "the new password of \(name) would not be verified safely: \(why)")
    }
    if case .challenge(let line, let method) = admission {
      return .pass(system, label, "pg_hba.conf line \(line) admits it with \(method)")
    }
    // The rules could not be read (libpq 16+ or channel binding guards the password):
    // prove the login with the live password instead.
    guard context.policy.strategy == .single, let password = context.live?.values[passwordKey]
    else {
      return .pass(system, label, "guarded by \(guardrail)")
    }
    switch await database.verifyLogin(role: name, password: password, database: verifyDatabase) {
    case .accepted:
      return .pass(system, label, "the live password logs in")
    case .refused:
      return .pass(
        system, label, "the live password is refused (it changes now); the server admits the role")
    case .unreachable(let why):
      return .fail(system, label, "role \(name) cannot log in to \(verifyDatabase): \(why)")
    }
  }

  // MARK: apply and verify

  public func apply(_ context: StepContext) async throws -> [TargetEvidence] {
    guard let database = context.services.database, let password = context.staged[passwordKey]
    else { return [] }
    let policy = context.policy
    let name = rotatedRole(policy, staged: context.staged)
    var details: [String: EvidenceValue] = ["verifier": "SCRAM-SHA-256, computed client-side"]
    if policy.strategy == .alternating {
      details["strategy"] = "alternating"
      details["role_in_use"] = .text(partner(of: name))
      details["memberships_granted"] = .list(
        try await equalizeMemberships(database, role: name))
    }
    try await database.setPassword(role: name, password: password)
    if terminateSessions {
      details["sessions_terminated"] = .number(try await database.terminateSessions(role: name))
    }
    return [TargetEvidence(target: "postgres role \(name)", details: details)]
  }

  public func verify(_ context: StepContext) async throws -> [TargetEvidence] {
    guard let database = context.services.database, let password = context.staged[passwordKey]
    else { return [] }
    let name = rotatedRole(context.policy, staged: context.staged)
    let new = await database.verifyLogin(role: name, password: password, database: verifyDatabase)
    guard new == .accepted else {
      throw RotationError.verification(
        "the new password of PostgreSQL role \(name) was not accepted (\(new))")
    }
    if context.policy.strategy == .alternating {
      return [try await verifyPair(database, role: name, live: context.live)]
    }
    var oldOutcome = "no previous password"
    if let previous = context.live?.values[passwordKey], previous != password {
      let old = await database.verifyLogin(
        role: role, password: previous, database: verifyDatabase)
      guard old == .refused else {
        throw RotationError.verification(
          "the old password of PostgreSQL role \(role) still logs in")
      }
      oldOutcome = "refused"
    }
    return [
      TargetEvidence(
        target: "postgres role \(role)",
        details: ["new_password": "accepted", "old_password": .text(oldOutcome)])
    ]
  }

  /// A claimed verify holds only while the staged password still logs in.
  public func stillVerified(_ context: StepContext) async -> Bool {
    guard let database = context.services.database, let password = context.staged[passwordKey]
    else { return true }
    let name = rotatedRole(context.policy, staged: context.staged)
    return await database.verifyLogin(role: name, password: password, database: verifyDatabase)
      == .accepted
  }

  /// Abort: a role that already has the new password gets the live one back.
  public func undo(_ context: StepContext) async throws -> (undone: [String], notUndone: [String]) {
    guard let database = context.services.database, let password = context.staged[passwordKey]
    else { return ([], []) }
    let name = rotatedRole(context.policy, staged: context.staged)
    guard
      await database.verifyLogin(role: name, password: password, database: verifyDatabase)
        == .accepted
    else { return ([], []) }
    guard let old = context.live?.values[passwordKey] else {
      throw RotationError.stepFailed(
        step: "abort",
        reason:
          "PostgreSQL role \(name) already has the new password and the live secret holds no previous one to set back; finish the rotation instead"
      )
    }
    try await database.setPassword(role: name, password: old)
    var notUndone: [String] = []
    if terminateSessions { notUndone.append("the sessions of \(name) ended at apply stay ended") }
    if context.policy.strategy == .alternating {
      notUndone.append("group memberships granted to \(name) at apply stay granted")
    }
    return (["PostgreSQL role \(name): its password was set back to the live secret's"], notUndone)
  }

  // MARK: plan

  public func plan(_ context: PlanContext) -> [PlanLine] {
    let ending = terminateSessions ? ", end its other sessions" : ""
    guard context.policy.strategy == .alternating, let alternate = alternateRole, let userKey
    else {
      return [
        PlanLine(.apply, "ALTER ROLE \(role) PASSWORD '<SCRAM-SHA-256 verifier>'\(ending)"),
        PlanLine(.verify, "new password logs in to \(verifyDatabase), old one is refused"),
      ]
    }
    let inUse = context.live.flatMap { roleInUse(live: $0) }
    let next = inUse.map { partner(of: $0) }
    return [
      PlanLine(
        .apply,
        "roles \(role)/\(alternate) alternate; in use: \(inUse ?? "unknown"); "
          + "give \(next ?? "the other role") the memberships of the one in use, ALTER ROLE "
          + "\(next ?? "…") PASSWORD '<SCRAM-SHA-256 verifier>'\(ending)"),
      PlanLine(
        .verify,
        "new password logs in to \(verifyDatabase), memberships equal; "
          + "\(inUse ?? "the role in use") keeps working until the next rotation"),
      PlanLine(.verify, "  (promote sets \(userKey) to \(next ?? "the other role"))"),
    ]
  }
}

extension RotationPolicy {
  /// The PostgreSQL role targets, in policy order.
  public var postgres: [PostgresRoleTarget] { targets(PostgresRoleTarget.self) }
  public typealias PostgresTarget = PostgresRoleTarget
}

// MARK: port

public enum LoginOutcome: Sendable, Equatable {
  case accepted
  case refused
  case unreachable(String)
}

/// What the PostgreSQL target needs of the server. `Adapters/PostgresRoles.swift` implements
/// it on libpq (each call on a thread of its own, libpq blocks).
public protocol DatabaseRoles: Sendable {
  /// Sets the role's password from a client-side SCRAM verifier.
  func setPassword(role: String, password: SecretBytes) async throws
  /// Ends the role's other sessions; returns how many.
  func terminateSessions(role: String) async throws -> Int
  func verifyLogin(role: String, password: SecretBytes, database: String) async -> LoginOutcome
  /// The login Lockstep itself uses, so a policy cannot rotate it.
  func currentUser() async throws -> String
  /// Whether that login may ALTER ROLE (superuser or CREATEROLE).
  func canManageRoles() async throws -> Bool
  /// Memberships, settings, ownership and direct grants of `role`; nil when it is missing.
  func profile(role: String) async throws -> PostgresRoleProfile?
  /// `GRANT group TO role` for each membership, with its options.
  func grant(_ memberships: [PostgresRoleProfile.Membership], to role: String) async throws
  /// Whether that login may end other roles' sessions (superuser or pg_signal_backend).
  func canSignalBackends() async throws -> Bool
  func databaseExists(_ name: String) async throws -> Bool
  /// What keeps a password login of `role` on `database` from sending the password in
  /// clear; `verifyLogin` makes no login when this is `.none`.
  func passwordExchangeGuard(role: String, database: String) async -> PasswordExchangeGuard
  /// pg_hba_file_rules' answer for `role` on `database` from this host.
  func admission(role: String, database: String) async -> PostgresAdmission
  /// pg_hba.conf `trust` lines that let `role` in over TCP without a password, from any
  /// host; nil when the rules cannot be read.
  func passwordlessRules(role: String) async -> [PasswordlessRule]?
}
