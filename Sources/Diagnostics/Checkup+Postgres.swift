import LockstepCore
import Postgres

extension Checkup {
  /// The variables that say "this machine talks to a PostgreSQL".
  static let postgresVariables = ["PGHOST", "PGSERVICE", "PGDATABASE", "PGUSER"]

  func postgresPlan() -> SystemPlan {
    let system = "PostgreSQL"
    let policyChecks = policy?.needs(system) == true ? policy?.targetChecks[system] : nil
    guard Self.postgresVariables.contains(where: { value($0) != nil }) || policyChecks != nil
    else {
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
      // libpq blocks: the login runs on a thread of its own.
      let connected = (try? await onDedicatedThread { Self.postgresChecks(configuration, log) })
      guard connected == true, let policyChecks else { return }
      // The policy's requirements are the rotation preflight's own checks (one place).
      log.begin("PostgreSQL rotation preflight")
      for check in await policyChecks() { log.record(Checkup.result(check)) }
    }
  }

  /// The login works; false when it does not.
  static func postgresChecks(_ configuration: PostgresConfiguration, _ log: CheckLog) -> Bool {
    log.begin("PostgreSQL login")
    let connection: PostgresConnection
    let info: PostgresServerInfo
    do {
      connection = try PostgresConnection(configuration)
      info = try connection.ping()
    } catch {
      log.fail("PostgreSQL login", clause(error), problem: sentence(error))
      return false
    }
    defer { connection.close() }
    let version = info.version.split(separator: " ").first.map(String.init) ?? info.version
    log.pass(
      "PostgreSQL login",
      "\(info.user)@\(info.server)/\(info.database), PostgreSQL \(version)")
    return true
  }
}

extension Checkup {
  /// A rotation preflight check as a doctor line.
  static func result(_ check: PreflightCheck) -> CheckResult {
    guard let problem = check.problem else {
      return .passed(check.system, check.name, check.detail)
    }
    let short = problem.split(separator: ":").first.map(String.init) ?? problem
    return .failed(
      check.system, check.name, short.count < 80 ? short : "failed",
      problem: finish(problem.prefix(1).uppercased() + problem.dropFirst()))
  }
}
