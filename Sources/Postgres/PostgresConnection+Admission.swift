internal import CPQ
import LockstepCore

/// How a password login of a role would be answered by this server, read from
/// `pg_hba_file_rules` before any password is sent.
///
/// libpq before 16 answers whatever authentication request a server (or anything in between)
/// makes, including `password`, which sends the password in clear. Lockstep never sends a new
/// password that way. With libpq 16 or later, `require_auth=scram-sha-256` makes libpq
/// itself refuse anything else. With older libpq (Debian 12 ships 15) the login is made only
/// when `channel_binding=require` is configured (SCRAM over TLS, bound to the channel), or
/// when the server's own rules prove that the first line matching this role, database and
/// client address asks for `scram-sha-256` (or `md5`, which is a challenge, never the
/// password). docs/postgres.md explains the choice.
public enum PostgresAdmission: Sendable, Equatable {
  /// The first matching line asks for a challenge (SCRAM, or md5): the password never
  /// crosses the wire.
  case challenge(line: Int, method: String)
  /// The first matching line is `reject`: this role can never log in from here.
  case reject(line: Int)
  /// The first matching line would have the password sent in clear (`password`, `ldap`,
  /// `radius`, `pam`, `bsd`).
  case cleartext(line: Int, method: String)
  /// The first matching line checks no password (`trust`, `peer`, `cert`…).
  case noPassword(line: Int, method: String)
  /// No line matches: the server refuses the login.
  case noRule
  /// The rules cannot be read or matched from here; the reason says why.
  case unknown(String)
}

/// Which safeguard stands between a password and a server that asks for it in clear.
public enum PasswordExchangeGuard: Sendable, Equatable {
  /// libpq 16+: `require_auth=scram-sha-256` on every verification login.
  case requireAuth
  /// `channel_binding=require` is configured: only SCRAM-SHA-256-PLUS over TLS.
  case channelBinding
  /// pg_hba_file_rules proves a challenge at this line.
  case hbaRules(line: Int, method: String)
  /// None: the login must not be made. The sentence says why and what to do.
  case none(String)

  public var allowsLogin: Bool {
    if case .none = self { false } else { true }
  }
}

extension PostgresConnection {
  /// `PQlibVersion`: 150018 for libpq 15.18.
  public static var libpqVersion: Int { Int(PQlibVersion()) }

  /// Whether a password login of `role` on `database`, made with this connection's settings,
  /// can be made without the password ever being sent in clear.
  public func passwordExchangeGuard(role: String, database: String) -> PasswordExchangeGuard {
    if Self.libpqVersion >= 160_000 { return .requireAuth }
    let settings = (try? loginConfiguration().parameters) ?? [:]
    if settings["channel_binding"] == "require" { return .channelBinding }
    switch admission(role: role, database: database) {
    case .challenge(let line, let method):
      return .hbaRules(line: line, method: method)
    case .cleartext(let line, let method):
      return .none(
        "pg_hba.conf line \(line) answers role \(role) on database \(database) from this host with \(method) authentication, which sends the password in clear; use scram-sha-256 there"
      )
    case .reject(let line):
      return .none(
        "pg_hba.conf line \(line) rejects role \(role) on database \(database) from this host")
    case .noPassword(let line, let method):
      return .none(
        "pg_hba.conf line \(line) admits role \(role) on database \(database) with \(method), which checks no password"
      )
    case .noRule:
      return .none("no pg_hba.conf line admits role \(role) on database \(database) from this host")
    case .unknown(let why):
      return .none(
        "libpq \(Self.libpqVersion / 10000) cannot refuse a server that asks for the password in clear, and \(why); let the login read the rules (GRANT SELECT ON pg_hba_file_rules and GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO it), or use TLS with PGCHANNELBINDING=require"
      )
    }
  }

  /// The first `pg_hba_file_rules` line that matches `role`, `database` and this
  /// connection's client address (or `local` over a socket). PostgreSQL answers the address
  /// match itself (`inet` masks), so the comparison is the server's own.
  public func admission(role: String, database: String) -> PostgresAdmission {
    let rows: PostgresRows
    do {
      rows = try query(
        """
        SELECT line_number, type, database::text AS databases, user_name::text AS users,
          auth_method, error,
          inet_client_addr() IS NULL AS local_client,
          coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS ssl,
          CASE WHEN address IS NULL OR inet_client_addr() IS NULL THEN NULL
               WHEN address = 'all' THEN true
               WHEN netmask IS NULL THEN NULL
               WHEN family(address::inet) <> family(inet_client_addr()) THEN false
               ELSE (inet_client_addr() & netmask::inet) = (address::inet & netmask::inet)
          END AS address_matches
        FROM pg_hba_file_rules ORDER BY line_number
        """)
    } catch {
      if error.sqlState == "42501" {
        return .unknown("the login \(user) may not read pg_hba_file_rules")
      }
      return .unknown("pg_hba_file_rules could not be read (\(error.description))")
    }
    for row in rows {
      let line = row.int("line_number") ?? 0
      if row["error"] != nil {
        return .unknown("pg_hba.conf has an error at line \(line)")
      }
      let type = row["type"] ?? ""
      let local = row.bool("local_client") ?? false
      let ssl = row.bool("ssl") ?? false
      let typeMatches =
        local
        ? type == "local"
        : (type == "host" || (type == "hostssl" && ssl) || (type == "hostnossl" && !ssl))
      guard typeMatches else { continue }
      let databases = Self.arrayItems(row["databases"] ?? "")
      guard
        databases.contains("all") || databases.contains(database)
          || (databases.contains("sameuser") && database == role)
      else {
        if databases.contains("samerole") {
          return .unknown(
            "pg_hba.conf line \(line) uses samerole, which Lockstep does not evaluate")
        }
        continue
      }
      var userMatches = false
      for entry in Self.arrayItems(row["users"] ?? "") {
        if entry == "all" || entry == role {
          userMatches = true
        } else if entry.hasPrefix("+") {
          let member = try? query(
            "SELECT pg_has_role($1, $2, 'MEMBER') AS member",
            [.text(role), .text(String(entry.dropFirst()))])
          if member?.first?.bool("member") == true { userMatches = true }
        }
        if userMatches { break }
      }
      guard userMatches else { continue }
      if !local {
        guard let matches = row.bool("address_matches") else {
          return .unknown(
            "pg_hba.conf line \(line) names a host by name (or samehost/samenet), which Lockstep does not resolve"
          )
        }
        guard matches else { continue }
      }
      let method = row["auth_method"] ?? ""
      switch method {
      case "scram-sha-256", "md5": return .challenge(line: line, method: method)
      case "reject": return .reject(line: line)
      case "password", "ldap", "radius", "pam", "bsd": return .cleartext(line: line, method: method)
      default: return .noPassword(line: line, method: method)
      }
    }
    return .noRule
  }

  /// `{all}` or `{a,"b c"}` (a text[] in text form) as its items.
  static func arrayItems(_ text: String) -> [String] {
    let inner = text.trimmingPrefix("{").dropLast(text.hasSuffix("}") ? 1 : 0)
    return inner.split(separator: ",").map { item in
      var value = String(item)
      if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 {
        value = String(value.dropFirst().dropLast())
      }
      return value
    }
  }
}
