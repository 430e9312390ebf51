import LockstepCore
import Redis

/// `SessionStore` on hiredis. A connection is opened per call: a rotation touches Redis
/// once or twice, and a fresh connection cannot have been dropped by an idle timeout.
/// hiredis blocks, so each call runs on a thread of its own.
public struct RedisSessions: SessionStore {
  let configuration: RedisConfiguration
  let pattern: String

  public init(configuration: RedisConfiguration, pattern: String) {
    self.configuration = configuration
    self.pattern = pattern
  }

  public func invalidate(pattern: String, batch: Int) async throws -> Int {
    let configuration = configuration
    return try await onDedicatedThread {
      try RedisConnection(configuration).invalidateSessions(pattern: pattern, batch: batch)
    }
  }

  public func flush() async throws {
    let configuration = configuration
    try await onDedicatedThread { try RedisConnection(configuration).flushDatabase() }
  }

  public func check() async throws {
    let (configuration, pattern) = (configuration, pattern)
    try await onDedicatedThread {
      let access = try RedisConnection(configuration).checkInvalidationAccess(pattern: pattern)
      if let problem = access.problems.first { throw UserError(problem, exit: .noPermission) }
    }
  }
}
