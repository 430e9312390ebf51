import LockstepCore
import Redis

/// `targets.redis`: the session store whose sessions the old credentials may have opened.
/// Invalidate removes the keys matching `pattern` (SCAN + UNLINK, in batches) or, only when
/// the policy says `flush_database: true`, the whole database.
public struct RedisSessionsTarget: RotationTarget, Equatable {
  /// Environment variable holding the Redis URL (never the URL itself in the policy).
  public var urlVariable: String
  public var pattern: String?
  public var batch: Int
  /// Wipes the whole database; only when the policy says so explicitly.
  public var flushDatabase: Bool

  static let system = "Redis"

  // MARK: policy

  public static let section = "redis"

  public static func parse(_ node: PolicyNode) throws(PolicyError) -> RedisSessionsTarget {
    let fields = try node.fields(allowed: ["url_env", "pattern", "batch", "flush_database"])
    let target = RedisSessionsTarget(
      urlVariable: try fields["url_env"]?.string() ?? "REDIS_URL",
      pattern: try fields["pattern"]?.string(),
      batch: try fields["batch"]?.int() ?? 1000,
      flushDatabase: try fields["flush_database"]?.bool() ?? false)
    guard (target.pattern != nil) != target.flushDatabase else {
      throw node.fail(
        "give a key pattern, or flush_database: true (which wipes every key), not both")
    }
    guard (1...100_000).contains(target.batch) else { throw node.fail("batch must be 1 to 100000") }
    // Refused at load, before any change, not at the invalidate step after the promote.
    if let pattern = target.pattern {
      do { try SessionPattern.check(pattern) } catch { throw node.fail(error.description) }
    }
    return target
  }

  public var label: String { "redis sessions" }
  public var id: String { "sessions:\(urlVariable)" }

  // MARK: preflight

  public func requirements(in policy: RotationPolicy) -> [PreflightRequirement] {
    [
      PreflightRequirement(
        system: Self.system, name: "Redis (\(urlVariable))",
        need: .redisCommands(
          urlVariable: urlVariable, pattern: pattern,
          commands: flushDatabase ? ["FLUSHDB"] : ["SCAN", "UNLINK"]))
    ]
  }

  public func preflight(_ context: PreflightContext) async -> [PreflightCheck] {
    let name = "Redis (\(urlVariable))"
    guard let store = context.services.sessions[urlVariable] else {
      return [.fail(Self.system, name, "Redis: \(urlVariable) is not set")]
    }
    do {
      try await store.check()
      return [.pass(Self.system, name, "reachable, SCAN and UNLINK allowed")]
    } catch {
      return [.fail(Self.system, name, "Redis: \(error)")]
    }
  }

  // MARK: invalidate

  public func invalidate(_ context: StepContext) async throws -> [TargetEvidence] {
    guard let sessions = context.services.sessions[urlVariable] else { return [] }
    if flushDatabase {
      try await sessions.flush()
      return [
        TargetEvidence(
          target: label, details: ["flushed": true, "url_env": .text(urlVariable)])
      ]
    }
    guard let pattern else { return [] }
    let removed = try await sessions.invalidate(pattern: pattern, batch: batch)
    return [
      TargetEvidence(
        target: label,
        details: [
          "pattern": .text(pattern), "removed": .number(removed), "url_env": .text(urlVariable),
        ])
    ]
  }

  // MARK: plan

  public func plan(_ context: PlanContext) -> [PlanLine] {
    [
      PlanLine(
        .invalidate,
        flushDatabase
          ? "FLUSHDB on $\(urlVariable) (every key!)"
          : "SCAN + UNLINK \(pattern ?? "") on $\(urlVariable), batches of \(batch)")
    ]
  }
}

extension RotationPolicy {
  /// The Redis session stores, in policy order.
  public var redis: [RedisSessionsTarget] { targets(RedisSessionsTarget.self) }
  public typealias RedisTarget = RedisSessionsTarget
}

// MARK: port

/// What the Redis sessions target needs. `Adapters/RedisSessions.swift` implements it on
/// hiredis (each call on a thread of its own, hiredis blocks).
public protocol SessionStore: Sendable {
  func invalidate(pattern: String, batch: Int) async throws -> Int
  func flush() async throws
  /// Preflight: can we reach it and run SCAN/UNLINK?
  func check() async throws
}
