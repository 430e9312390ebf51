import LockstepCore
import Redis

/// `SessionStore` on hiredis. A connection is opened per call: a rotation touches Redis
/// once or twice, and a fresh connection cannot have been dropped by an idle timeout.
public struct RedisSessions: SessionStore {
  let configuration: RedisConfiguration
  let pattern: String

  public init(configuration: RedisConfiguration, pattern: String) {
    self.configuration = configuration
    self.pattern = pattern
  }

  public func invalidate(pattern: String, batch: Int) throws -> Int {
    try RedisConnection(configuration).invalidateSessions(pattern: pattern, batch: batch)
  }

  public func flush() throws {
    try RedisConnection(configuration).flushDatabase()
  }

  public func check() throws {
    let access = try RedisConnection(configuration).checkInvalidationAccess(pattern: pattern)
    if let problem = access.problems.first { throw UserError(problem, exit: .noPermission) }
  }
}
