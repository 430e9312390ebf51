import LockstepCore

/// What makes two login roles interchangeable for an application: the group roles they are
/// members of (with the grant's options), their per-role settings, the objects they own and
/// the objects whose ACLs name them directly. `strategy: alternating` keeps the two roles of
/// a pair equal in all of these, so switching the application from one to the other changes
/// its password and nothing else.
public struct PostgresRoleProfile: Sendable, Equatable {
  public struct Membership: Sendable, Hashable, Comparable {
    /// The group role.
    public var group: String
    /// The grant's options as the server stores them (`admin_option`, and from PostgreSQL 16
    /// `inherit_option` and `set_option`), rendered as sorted `name=value` pairs.
    public var options: String

    public init(group: String, options: String) {
      self.group = group
      self.options = options
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
      (lhs.group, lhs.options) < (rhs.group, rhs.options)
    }
  }

  public var role: String
  public var canLogin: Bool
  public var memberships: Set<Membership>
  /// `ALTER ROLE … [IN DATABASE d] SET …` entries, as `database|name=value` (`*` for all).
  public var settings: Set<String>
  /// Objects the role owns, anywhere in the cluster (`pg_shdepend`).
  public var ownedObjects: Int
  /// Objects, anywhere in the cluster, whose ACL names the role (`database/catalog/oid`).
  public var directGrants: Set<String>

  public init(
    role: String, canLogin: Bool, memberships: Set<Membership>, settings: Set<String>,
    ownedObjects: Int, directGrants: Set<String>
  ) {
    self.role = role
    self.canLogin = canLogin
    self.memberships = memberships
    self.settings = settings
    self.ownedObjects = ownedObjects
    self.directGrants = directGrants
  }
}

extension PostgresConnection {
  /// The role's profile, or nil when the role does not exist. Reads only shared catalogs,
  /// so it sees every database of the cluster from whichever one this connection is on.
  public func roleProfile(_ role: String) throws(PostgresError) -> PostgresRoleProfile? {
    let context = FailureContext(action: "read the memberships of role \"\(role)\"", role: role)
    let roles = try query(
      "SELECT oid::text AS oid, rolcanlogin FROM pg_roles WHERE rolname = $1", [.text(role)],
      context: context)
    guard let row = roles.first, let oid = row["oid"] else { return nil }
    // to_jsonb keeps this independent of the server version's option columns.
    let memberships = try query(
      "SELECT g.rolname AS grp, (SELECT string_agg(key || '=' || value, ',' ORDER BY key) "
        + "FROM jsonb_each_text(to_jsonb(m) - 'oid' - 'roleid' - 'member' - 'grantor')) AS opts "
        + "FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        + "WHERE m.member = $1::oid",
      [.text(oid)], context: context)
    let settings = try query(
      "SELECT coalesce(d.datname, '*') || '|' || c AS setting FROM pg_db_role_setting s "
        + "LEFT JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) AS c "
        + "WHERE s.setrole = $1::oid",
      [.text(oid)], context: context)
    let dependencies = try query(
      "SELECT deptype::text AS kind, dbid::text || '/' || classid::regclass::text || '/' "
        + "|| objid::text AS object FROM pg_shdepend "
        + "WHERE refclassid = 'pg_authid'::regclass AND refobjid = $1::oid "
        + "AND deptype IN ('o', 'a')",
      [.text(oid)], context: context)
    return PostgresRoleProfile(
      role: role, canLogin: row.bool("rolcanlogin") ?? false,
      memberships: Set(
        memberships.map { .init(group: $0["grp"] ?? "", options: $0["opts"] ?? "") }),
      settings: Set(settings.compactMap { $0["setting"] }),
      ownedObjects: dependencies.filter { $0["kind"] == "o" }.count,
      directGrants: Set(dependencies.filter { $0["kind"] == "a" }.compactMap { $0["object"] }))
  }

  /// `GRANT group TO role` with the same options, for each membership. From PostgreSQL 16
  /// the ADMIN, INHERIT and SET options are carried over; before, the ADMIN option only.
  public func grant(_ memberships: [PostgresRoleProfile.Membership], to role: String)
    throws(PostgresError)
  {
    for membership in memberships.sorted() {
      var options: [String: String] = [:]
      for pair in membership.options.split(separator: ",") {
        let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
        if parts.count == 2 { options[parts[0]] = parts[1] }
      }
      let flag = { (name: String) in options[name] == "true" ? "TRUE" : "FALSE" }
      var with: [String] = []
      if serverVersion >= 160_000 {
        with = ["ADMIN \(flag("admin_option"))"]
        if options["inherit_option"] != nil { with.append("INHERIT \(flag("inherit_option"))") }
        if options["set_option"] != nil { with.append("SET \(flag("set_option"))") }
      } else if options["admin_option"] == "true" {
        with = ["ADMIN OPTION"]
      }
      let context = FailureContext(
        action: "grant role \"\(membership.group)\" to \"\(role)\"", role: role,
        privilegeHint: "that needs superuser, CREATEROLE, or the ADMIN option on the group")
      let statement =
        "GRANT \(try quotedIdentifier(membership.group)) TO \(try quotedIdentifier(role))"
        + (with.isEmpty ? "" : " WITH " + with.joined(separator: ", "))
      try query(statement, [], context: context)
    }
  }
}
