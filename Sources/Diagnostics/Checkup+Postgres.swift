import LockstepCore
import Postgres
import Rotation

extension Checkup {
  /// The variables that say "this machine talks to a PostgreSQL".
  static let postgresVariables = ["PGHOST", "PGSERVICE", "PGDATABASE", "PGUSER"]

  func postgresPlan() -> SystemPlan {
    let system = "PostgreSQL"
    let targets = policy?.postgres ?? []
    guard Self.postgresVariables.contains(where: { value($0) != nil }) || !targets.isEmpty else {
      return .done([
        .skipped(
          system, "PostgreSQL", "not configured (no PGHOST, PGSERVICE, PGDATABASE or PGUSER)")
      ])
    }
    let configuration = PostgresConfiguration(
      environment: environment, connectTimeout: min(clientTimeout, .seconds(10)))
    let place =
      [value("PGHOST").map { "host \($0)" }, value("PGSERVICE").map { "service \($0)" }]
      .compactMap { $0 }.first ?? "the PG* defaults"
    return .run(CheckLog(system: system), subject: "PostgreSQL (\(place))") { log in
      // libpq blocks: the whole sequence runs on a thread of its own.
      _ = try? await onDedicatedThread { Self.postgresChecks(configuration, targets, log) }
    }
  }

  static func postgresChecks(
    _ configuration: PostgresConfiguration, _ targets: [RotationPolicy.PostgresTarget],
    _ log: CheckLog
  ) {
    log.begin("PostgreSQL login")
    let connection: PostgresConnection
    let info: PostgresServerInfo
    do {
      connection = try PostgresConnection(configuration)
      info = try connection.ping()
    } catch {
      log.fail("PostgreSQL login", clause(error), problem: sentence(error))
      return
    }
    defer { connection.close() }
    let version = info.version.split(separator: " ").first.map(String.init) ?? info.version
    log.pass(
      "PostgreSQL login",
      "\(info.user)@\(info.server)/\(info.database), PostgreSQL \(version)")
    guard !targets.isEmpty else { return }

    log.begin("PostgreSQL rights")
    do {
      let rights = try connection.capabilities()
      if rights.canChangePasswords {
        log.pass(
          "PostgreSQL rights",
          "\(rights.user) is \(rights.isSuperuser ? "superuser" : "CREATEROLE"): may change passwords"
        )
      } else {
        log.fail(
          "PostgreSQL rights", "\(rights.user) is neither superuser nor CREATEROLE",
          problem:
            "PostgreSQL role \"\(rights.user)\" at \(info.server) may not change other roles' passwords: grant it CREATEROLE (or log in as a role that has it)."
        )
      }
      if targets.contains(where: \.terminateSessions) {
        if rights.isSuperuser || rights.canSignalBackends {
          log.pass("PostgreSQL end sessions", "\(rights.user) may end other roles' sessions")
        } else {
          log.fail(
            "PostgreSQL end sessions", "\(rights.user) is not in pg_signal_backend",
            problem:
              "PostgreSQL role \"\(rights.user)\" may not end the rotated roles' sessions (terminate_sessions): grant it pg_signal_backend."
          )
        }
      }
      let rotated = targets.flatMap { [$0.role] + ($0.alternateRole.map { [$0] } ?? []) }
      if rotated.contains(rights.user) {
        log.fail(
          "PostgreSQL own login", "the policy rotates \(rights.user)",
          problem:
            "The policy rotates PostgreSQL role \"\(rights.user)\", the role Lockstep itself logs in as: connect as another role (PGUSER) so the rotation cannot lock itself out."
        )
      } else {
        log.pass("PostgreSQL own login", "\(rights.user) is not among the rotated roles")
      }
      for role in rotated {
        let name = "PostgreSQL role \(role)"
        log.begin(name)
        if try connection.roleExists(role) {
          log.pass(name, "exists")
        } else {
          log.fail(
            name, "does not exist",
            problem:
              "PostgreSQL role \"\(role)\" named by the policy does not exist at \(info.server).")
        }
      }
      for target in targets {
        guard let alternate = target.alternateRole else { continue }
        let name = "PostgreSQL pair \(target.role)/\(alternate)"
        log.begin(name)
        let (problems, profiles) = try Rotator.pairProblems(target) {
          try connection.roleProfile($0)
        }
        if !problems.isEmpty {
          log.fail(name, "rights differ", problem: problems.joined(separator: "; ") + ".")
        } else if profiles.count == 2, profiles[0].memberships != profiles[1].memberships {
          log.pass(
            name,
            "group memberships differ: a rotation grants the next role those of the role in use, and refuses if it holds more"
          )
        } else {
          log.pass(name, "equal rights (memberships, settings, grants), no owned objects")
        }
      }
      for database in Set(targets.map(\.verifyDatabase)).sorted() {
        let name = "PostgreSQL database \(database)"
        log.begin(name)
        let rows = try connection.query(
          "SELECT 1 FROM pg_database WHERE datname = $1", [.text(database)])
        if rows.count == 1 {
          log.pass(name, "exists (the new password is verified there)")
        } else {
          log.fail(
            name, "does not exist",
            problem:
              "PostgreSQL database \"\(database)\" (the policy's verify_database) does not exist at \(info.server)."
          )
        }
      }
    } catch {
      log.fail("PostgreSQL rights", clause(error), problem: sentence(error))
    }
  }
}
