import LockstepCore
import Postgres
import Rotation

extension Checkup {
  /// The variables that say "this machine talks to a PostgreSQL".
  static let postgresVariables = ["PGHOST", "PGSERVICE", "PGDATABASE", "PGUSER"]

  func postgresPlan() -> SystemPlan {
    let system = "PostgreSQL"
    let targets = policy?.postgres ?? []
    let policy = self.policy
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
      _ = try? await onDedicatedThread { Self.postgresChecks(configuration, policy, log) }
    }
  }

  static func postgresChecks(
    _ configuration: PostgresConfiguration, _ policy: RotationPolicy?, _ log: CheckLog
  ) {
    let targets = policy?.postgres ?? []
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
    guard let policy, !targets.isEmpty else { return }
    // The policy's requirements are the rotation preflight's own checks (one place).
    log.begin("PostgreSQL rotation preflight")
    let roles: PostgresRoles
    do {
      roles = try PostgresRoles(configuration: configuration)
    } catch {
      log.fail("PostgreSQL rotation preflight", clause(error), problem: sentence(error))
      return
    }
    let preflight = RotationPreflight(
      policy: policy, store: nil, database: roles, deployments: nil, sessions: [:])
    for check in preflight.postgres(live: nil) { log.record(result(check)) }
  }
}

extension Checkup {
  /// A rotation preflight check as a doctor line.
  static func result(_ check: RotationPreflight.Check) -> CheckResult {
    guard let problem = check.problem else {
      return .passed(check.system, check.name, check.detail)
    }
    let short = problem.split(separator: ":").first.map(String.init) ?? problem
    return .failed(
      check.system, check.name, short.count < 80 ? short : "failed",
      problem: finish(problem.prefix(1).uppercased() + problem.dropFirst()))
  }
}
