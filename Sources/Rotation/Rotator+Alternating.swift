import LockstepCore
import Postgres

/// `strategy: alternating`: each PostgreSQL target is a pair of login roles, and the live
/// secret's `user_key` names the one the application uses. A rotation gives the other role
/// a new password, makes its group memberships equal to those of the role in use, switches
/// `user_key` (and the derived URL) to it at promote, and leaves the role in use working, so
/// pods that have not restarted yet keep their connections. The next rotation changes that
/// role's password in turn.
extension Rotator {
  typealias PostgresTarget = RotationPolicy.PostgresTarget

  /// The role of the pair that `target` is not using now.
  static func partner(of role: String, in target: PostgresTarget) -> String {
    role == target.role ? target.alternateRole ?? target.role : target.role
  }

  /// The role whose password this rotation changes: for `alternating`, the one staged in
  /// `user_key`; otherwise the target's role.
  func rotatedRole(_ target: PostgresTarget) -> String {
    guard policy.strategy == .alternating, let key = target.userKey,
      let role = staged[key]?.unsafeUTF8String()
    else { return target.role }
    return role
  }

  /// The role the live secret names, if it is one of the pair.
  static func roleInUse(_ target: PostgresTarget, live: VersionedSecret) -> String? {
    guard let key = target.userKey, let name = live.values[key]?.unsafeUTF8String(),
      name == target.role || name == target.alternateRole
    else { return nil }
    return name
  }

  /// What makes a pair unusable whichever role is in use: a missing role, one that may not
  /// log in, ownership, different settings or direct grants. Doctor shows the same list.
  public static func pairProblems(
    _ target: RotationPolicy.PostgresTarget,
    profile: (String) throws -> PostgresRoleProfile?
  ) rethrows -> (problems: [String], profiles: [PostgresRoleProfile]) {
    guard let alternate = target.alternateRole else { return ([], []) }
    var problems: [String] = []
    var profiles: [PostgresRoleProfile] = []
    for role in [target.role, alternate] {
      guard let found = try profile(role) else {
        problems.append("PostgreSQL role \(role) does not exist")
        continue
      }
      if !found.canLogin { problems.append("PostgreSQL role \(role) may not log in") }
      if found.ownedObjects > 0 {
        problems.append(
          "PostgreSQL role \(role) owns \(found.ownedObjects) object(s); with strategy "
            + "alternating both roles must act through a group role that owns them "
            + "(REASSIGN OWNED BY \(role) TO the group)")
      }
      profiles.append(found)
    }
    guard profiles.count == 2 else { return (problems, profiles) }
    let pair = "PostgreSQL roles \(target.role) and \(alternate)"
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

  /// Preflight for each pair: `pairProblems`, and the role about to be used holds no
  /// membership that the role in use lacks (the ones it lacks are granted at apply).
  static func alternatingProblems(
    _ policy: RotationPolicy, _ database: any DatabaseRoles, live: VersionedSecret?
  ) throws -> [String] {
    var problems: [String] = []
    for target in policy.postgres {
      guard let alternate = target.alternateRole, let userKey = target.userKey else { continue }
      let (found, profiles) = try pairProblems(target) { try database.profile(role: $0) }
      problems += found
      guard profiles.count == 2, let live else { continue }
      guard let inUse = roleInUse(target, live: live) else {
        problems.append(
          "\(userKey) in \(policy.vault.secret) must name \(target.role) or \(alternate)")
        continue
      }
      let (current, next) =
        inUse == target.role ? (profiles[0], profiles[1]) : (profiles[1], profiles[0])
      // During a resume after promote the roles have swapped; they are equal by then.
      for extra in next.memberships.subtracting(current.memberships).sorted() {
        problems.append(
          "PostgreSQL role \(next.role) is a member of \(extra.group) (\(extra.options)), "
            + "which \(current.role) is not: the two roles must hold the same rights")
      }
    }
    return problems
  }

  /// Apply, for a pair: memberships of the partner that `role` lacks are granted to it.
  /// Returns the groups granted.
  func equalizeMemberships(_ database: any DatabaseRoles, role: String, target: PostgresTarget)
    throws -> [String]
  {
    let partner = Self.partner(of: role, in: target)
    guard let model = try database.profile(role: partner),
      let profile = try database.profile(role: role)
    else {
      throw RotationError.stepFailed(
        step: "apply", reason: "PostgreSQL role \(role) or \(partner) no longer exists")
    }
    let missing = model.memberships.subtracting(profile.memberships).sorted()
    try database.grant(missing, to: role)
    return missing.map(\.group)
  }

  /// Verify, for a pair: both roles now hold the same memberships.
  func requireEqualMemberships(_ database: any DatabaseRoles, role: String, target: PostgresTarget)
    throws
  {
    let partner = Self.partner(of: role, in: target)
    guard let one = try database.profile(role: role),
      let other = try database.profile(role: partner),
      one.memberships == other.memberships
    else {
      throw RotationError.verification(
        "PostgreSQL roles \(role) and \(partner) do not hold the same group memberships")
    }
  }
}
