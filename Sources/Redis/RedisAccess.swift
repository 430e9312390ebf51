/// What the connected ACL user may do for a session invalidation, for `lockstep doctor`
/// and the rotation preflight: better to learn about a missing `+unlink` before the
/// passwords have been rotated than halfway through.
public struct RedisAccess: Sendable, Equatable {
  public enum Verdict: String, Sendable, Equatable {
    case allowed, denied
    /// Neither `ACL DRYRUN` nor a harmless probe could tell.
    case unknown
  }

  public let user: String
  public let pattern: String
  public let scan: Verdict
  public let unlink: Verdict
  /// nil when the flush check was not asked for.
  public let flush: Verdict?

  /// One sentence per missing right, naming the command; empty when nothing is denied.
  public var problems: [String] {
    var sentences: [String] = []
    if scan == .denied {
      sentences.append("Redis user '\(user)' may not run SCAN (NOPERM); grant +scan.")
    }
    if unlink == .denied {
      sentences.append(
        "Redis user '\(user)' may not UNLINK keys matching '\(pattern)' (NOPERM); grant +unlink and the key pattern."
      )
    }
    if flush == .denied {
      sentences.append("Redis user '\(user)' may not run FLUSHDB (NOPERM); grant +flushdb.")
    }
    return sentences
  }

  public var isSufficient: Bool {
    scan == .allowed && unlink == .allowed && (flush ?? .allowed) == .allowed
  }
}
