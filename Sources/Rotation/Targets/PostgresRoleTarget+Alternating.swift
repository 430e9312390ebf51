import LockstepCore
import Postgres

/// `strategy: alternating`: each PostgreSQL target is a pair of login roles, and the live
/// secret's `user_key` names the one the application uses. A rotation gives the other role
/// a new password, makes its group memberships equal to those of the role in use, switches
/// `user_key` (and the derived URL) to it at promote, and leaves the role in use working, so
/// pods that have not restarted yet keep their connections. The next rotation changes that
/// role's password in turn.
extension PostgresRoleTarget {
  /// The role of the pair that is not `name`.
  func partner(of name: String) -> String {
    name == role ? alternateRole ?? role : role
  }

  /// The role the live secret names, if it is one of the pair.
  func roleInUse(live: VersionedSecret) -> String? {
    guard let userKey, let name = live.values[userKey]?.unsafeUTF8String(),
      name == role || name == alternateRole
    else { return nil }
    return name
  }

  /// What makes a pair unusable whichever role is in use: a missing role, one that may not
  /// log in, ownership, different settings or direct grants.
  func pairProblems(_ database: any DatabaseRoles) async throws
    -> (problems: [String], profiles: [PostgresRoleProfile])
  {
    guard let alternate = alternateRole else { return ([], []) }
    var problems: [String] = []
    var profiles: [PostgresRoleProfile] = []
    for name in [role, alternate] {
      guard let found = try await database.profile(role: name) else {
        problems.append("PostgreSQL role \(name) does not exist")
        continue
      }
      if !found.canLogin { problems.append("PostgreSQL role \(name) may not log in") }
      if found.ownedObjects > 0 {
        problems.append(
          "PostgreSQL role \(name) owns \(found.ownedObjects) object(s); with strategy "
            + "alternating both roles must act through a group role that owns them "
            + "(REASSIGN OWNED BY \(name) TO the group)")
      }
      profiles.append(found)
    }
    guard profiles.count == 2 else { return (problems, profiles) }
    let pair = "PostgreSQL roles \(role) and \(alternate)"
    if profiles[0].settings != profiles[1].settings {
      problems.append("\(pair) have different ALTER ROLE … SET settings")
    }
    if profiles[0].directGrants != profiles[1].directGrants {
      problems.append(
        "\(pair) are named in different object ACLs (\(profiles[0].directGrants.count) and "
          + "\(profiles[1].directGrants.count) objects): grant those rights to a group role "
          + "that both are members of")
    }
    return (problems, profiles)
  }

  /// Preflight for the pair: `pairProblems`, and the role about to be used holding no
  /// membership that the role in use lacks (the ones it lacks are granted at apply).
  func pairChecks(_ database: any DatabaseRoles, _ context: PreflightContext) async throws
    -> [PreflightCheck]
  {
    guard let alternate = alternateRole, let userKey else { return [] }
    let name = "PostgreSQL pair \(role)/\(alternate)"
    let (problems, profiles) = try await pairProblems(database)
    var checks: [PreflightCheck] = []
    if !problems.isEmpty {
      checks.append(.fail(Self.system, name, problems.joined(separator: "; ")))
    } else if profiles.count == 2, profiles[0].memberships != profiles[1].memberships {
      checks.append(
        .pass(
          Self.system, name,
          "group memberships differ: a rotation grants the next role those of the role in use, and refuses if it holds more"
        ))
    } else {
      checks.append(
        .pass(Self.system, name, "equal rights (memberships, settings, grants), no owned objects"))
    }
    guard profiles.count == 2, let live = context.live else { return checks }
    guard let inUse = roleInUse(live: live) else {
      checks.append(
        .fail(
          Self.system, "PostgreSQL role pair",
          "\(userKey) in \(context.policy.vault.secret) must name \(role) or \(alternate)"))
      return checks
    }
    let (current, next) =
      inUse == role ? (profiles[0], profiles[1]) : (profiles[1], profiles[0])
    // During a resume after promote the roles have swapped; they are equal by then.
    for extra in next.memberships.subtracting(current.memberships).sorted() {
      checks.append(
        .fail(
          Self.system, "PostgreSQL role pair",
          "PostgreSQL role \(next.role) is a member of \(extra.group) (\(extra.options)), "
            + "which \(current.role) is not: the two roles must hold the same rights"))
    }
    return checks
  }

  /// Apply, for a pair: memberships of the partner that `name` lacks are granted to it.
  /// Returns the groups granted.
  func equalizeMemberships(_ database: any DatabaseRoles, role name: String) async throws
    -> [String]
  {
    let other = partner(of: name)
    guard let model = try await database.profile(role: other),
      let profile = try await database.profile(role: name)
    else {
      throw RotationError.stepFailed(
        step: "apply", reason: "PostgreSQL role \(name) or \(other) no longer exists")
    }
    let missing = model.memberships.subtracting(profile.memberships).sorted()
    try await database.grant(missing, to: name)
    return missing.map(\.group)
  }

  /// Verify, for a pair: both roles hold the same memberships, and the role in use still
  /// logs in (recorded, not required: the rotation is what moves the application off it).
  func verifyPair(_ database: any DatabaseRoles, role name: String, live: VersionedSecret?)
    async throws -> TargetEvidence
  {
    let other = partner(of: name)
    guard let one = try await database.profile(role: name),
      let two = try await database.profile(role: other),
      one.memberships == two.memberships
    else {
      throw RotationError.verification(
        "PostgreSQL roles \(name) and \(other) do not hold the same group memberships")
    }
    var previous = "not checked (already promoted)"
    if let live, roleInUse(live: live) == other, let password = live.values[passwordKey] {
      previous =
        await database.verifyLogin(role: other, password: password, database: verifyDatabase)
        == .accepted ? "accepted until the next rotation" : "refused"
    }
    return TargetEvidence(
      target: "postgres role \(name)",
      details: [
        "new_password": "accepted", "memberships": .text("equal to \(other)"),
        "role_in_use": .text(other), "role_in_use_login": .text(previous),
      ])
  }
}
