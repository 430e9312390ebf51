import Foundation
import LockstepCore
import Redis

extension Checkup {
  /// What a policy's Redis requirement asks: SCAN and UNLINK on a pattern, or FLUSHDB.
  struct RedisNeed: Sendable {
    var pattern: String?
    var flushDatabase: Bool
  }

  func redisPlan() -> SystemPlan {
    let system = "Redis"
    // The base check uses REDIS_URL; each policy requirement names its own variable.
    var variables: [(variable: String, targets: [RedisNeed])] = []
    if value("REDIS_URL") != nil { variables.append(("REDIS_URL", [])) }
    for requirement in policy?.requirements(of: system) ?? [] {
      guard case .redisCommands(let variable, let pattern, let commands) = requirement.need else {
        continue
      }
      let need = RedisNeed(pattern: pattern, flushDatabase: commands.contains("FLUSHDB"))
      if let index = variables.firstIndex(where: { $0.variable == variable }) {
        variables[index].targets.append(need)
      } else {
        variables.append((variable, [need]))
      }
    }
    guard !variables.isEmpty else {
      return .done([.skipped(system, "Redis", "not configured (REDIS_URL is not set)")])
    }
    var early: [CheckResult] = []
    var checks: [(String, RedisConfiguration, [RedisNeed])] = []
    for (variable, targets) in variables {
      let name = variable == "REDIS_URL" ? "Redis PING" : "Redis PING ($\(variable))"
      guard let url = value(variable) else {
        early.append(
          .failed(
            system, name, "$\(variable) is not set",
            problem:
              "The policy's Redis target reads its URL from $\(variable), which is not set."))
        continue
      }
      do {
        var configuration = try RedisConfiguration(url: url)
        configuration.connectTimeout = min(configuration.connectTimeout, clientTimeout)
        configuration.commandTimeout = clientTimeout
        checks.append((variable, configuration, targets))
      } catch {
        early.append(
          .failed(
            system, name, Self.clause(error),
            problem: variable == "REDIS_URL"
              ? Self.sentence(error) : "$\(variable): \(Self.sentence(error))"))
      }
    }
    guard !checks.isEmpty else { return .done(early) }
    let failedEarly = early
    let toCheck = checks
    let subject = "Redis at " + checks.map { $0.1.endpoint.description }.joined(separator: ", ")
    return .run(CheckLog(system: system), subject: subject) { log in
      for result in failedEarly { log.record(result) }
      // hiredis blocks: run on a thread of its own.
      _ = try? await onDedicatedThread {
        for (variable, configuration, targets) in toCheck {
          Self.redisChecks(variable, configuration, targets, log)
        }
      }
    }
  }

  static func milliseconds(_ duration: Duration) -> String {
    let micro =
      duration.components.seconds * 1_000_000 + duration.components.attoseconds
      / 1_000_000_000_000
    return String(format: "%.1f", Double(micro) / 1000)
  }

  static func redisChecks(
    _ variable: String, _ configuration: RedisConfiguration,
    _ targets: [RedisNeed], _ log: CheckLog
  ) {
    let name = variable == "REDIS_URL" ? "Redis PING" : "Redis PING ($\(variable))"
    log.begin(name)
    let connection: RedisConnection
    do {
      connection = try RedisConnection(configuration)
      let roundTrip = try connection.ping()
      log.pass(name, "\(configuration) answers PONG in \(milliseconds(roundTrip)) ms")
    } catch {
      log.fail(name, clause(error), problem: sentence(error))
      return
    }
    for target in targets {
      let pattern = target.pattern ?? "*"
      let what = target.pattern.map { "Redis access \($0)" } ?? "Redis access FLUSHDB"
      log.begin(what)
      do {
        let access = try connection.checkInvalidationAccess(
          pattern: pattern, includingFlush: target.flushDatabase)
        var needed: [(String, RedisAccess.Verdict)] = []
        if target.pattern != nil {
          needed += [("SCAN", access.scan), ("UNLINK", access.unlink)]
        }
        if let flush = access.flush { needed.append(("FLUSHDB", flush)) }
        if !access.problems.isEmpty {
          log.fail(
            what, "denied for user \(access.user)",
            problem: access.problems.joined(separator: " "))
        } else if needed.contains(where: { $0.1 == .unknown }) {
          let unknown = needed.filter { $0.1 == .unknown }.map(\.0).joined(separator: ", ")
          log.skip(
            what,
            "user \(access.user): \(unknown) could not be verified without running it (no ACL DRYRUN)"
          )
        } else {
          log.pass(
            what, "user \(access.user) may \(needed.map(\.0).joined(separator: ", "))")
        }
      } catch {
        log.fail(what, clause(error), problem: sentence(error))
      }
    }
  }
}
