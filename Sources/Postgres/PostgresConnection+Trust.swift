import LockstepCore

/// A pg_hba.conf line that lets a role in over TCP without checking any password.
public struct PasswordlessRule: Sendable, Equatable {
  public let line: Int
  /// As pg_hba.conf names the clients: `all`, `10.0.0.0/8`, or a host name.
  public let clients: String

  public init(line: Int, clients: String) {
    self.line = line
    self.clients = clients
  }
}

extension PostgresConnection {
  /// Every `trust` line for TCP clients (`host*`) that can admit `role` on some database
  /// and that no earlier line answers first for the same clients: from there the role's
  /// old password, or any other, logs in whatever `ALTER ROLE` set, so a rotation proves
  /// nothing. Lines for Unix sockets (`local`) need a shell on the server itself and are
  /// left out. An earlier line shadows one only when it surely matches every connection
  /// the trust line would (`host` or the same type, every database, the role or `all`,
  /// and clients that contain the trust line's); anything less certain is reported. Nil
  /// when the rules cannot be read by this login.
  public func passwordlessRules(role: String) -> [PasswordlessRule]? {
    let rows: PostgresRows
    do {
      rows = try query(
        """
        SELECT t.line_number, coalesce(t.address, 'all') AS address, t.netmask
        FROM pg_hba_file_rules t
        WHERE t.error IS NULL AND t.auth_method = 'trust' AND t.type LIKE 'host%'
          AND ('all' = ANY(t.user_name) OR $1 = ANY(t.user_name)
            OR EXISTS (SELECT 1 FROM unnest(t.user_name) g JOIN pg_roles r
              ON g LIKE '+%' AND r.rolname = substr(g, 2)
              WHERE pg_has_role($1, r.oid, 'MEMBER')))
          AND NOT EXISTS (
            SELECT 1 FROM pg_hba_file_rules e
            WHERE e.error IS NULL AND e.line_number < t.line_number
              AND (e.type = 'host' OR e.type = t.type)
              AND 'all' = ANY(e.database)
              AND ('all' = ANY(e.user_name) OR $1 = ANY(e.user_name))
              AND CASE
                WHEN e.address = 'all' THEN true
                WHEN e.netmask IS NULL OR t.netmask IS NULL THEN false
                WHEN family(e.address::inet) <> family(t.address::inet) THEN false
                ELSE (t.address::inet & e.netmask::inet) = (e.address::inet & e.netmask::inet)
                  AND (t.netmask::inet & e.netmask::inet) = e.netmask::inet
              END)
        ORDER BY t.line_number
        """, [.text(role)])
    } catch {
      return nil
    }
    return rows.map { row in
      var clients = row["address"] ?? "all"
      if let mask = row["netmask"] {
        let parts = mask.split(separator: ".").compactMap { UInt8($0) }
        clients +=
          parts.count == 4 ? "/\(parts.reduce(0) { $0 + $1.nonzeroBitCount })" : " mask \(mask)"
      }
      return PasswordlessRule(line: row.int("line_number") ?? 0, clients: clients)
    }
  }
}
