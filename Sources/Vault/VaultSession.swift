import Foundation
import LockstepCore
import Synchronization

/// The token a client obtained by logging in, and when it must be renewed.
///
/// Shared by the threads of one client's pool: the state sits in a `Mutex`, and a second
/// lock lets exactly one thread log in or renew while the others wait for its result
/// instead of each logging in on its own.
final class VaultSession: Sendable {
  struct Grant: Sendable {
    var token: SecretBytes
    /// nil: the token never expires (a root token).
    var ttl: Duration?
    var renewable: Bool
    var obtained: ContinuousClock.Instant
    /// The TTL of the first grant after a login, to tell a useful renewal from one that
    /// the token's max TTL cut short.
    var loginTTL: Duration?
  }

  struct Counters: Sendable, Equatable {
    public var logins = 0
    public var renewals = 0
  }

  let grant = Mutex<Grant?>(nil)
  let counters = Mutex(Counters())
  /// Held while logging in or renewing.
  let refreshing = Mutex<Void>(())
  /// How far a test moved this session's clock ahead of the continuous clock, so that
  /// renewal is tested without sleeping through a TTL (a loaded machine cannot decide it).
  let skew = Mutex<Duration>(.zero)

  /// Now, as this session measures token lifetimes.
  func now() -> ContinuousClock.Instant {
    ContinuousClock.now + skew.withLock { $0 }
  }

  /// Moves this session's clock ahead; for tests.
  func advance(by duration: Duration) {
    skew.withLock { $0 += duration }
  }

  /// The current token while less than two thirds of its TTL have passed; else nil.
  func usableToken(now: ContinuousClock.Instant) -> SecretBytes? {
    grant.withLock { grant in
      guard let grant else { return nil }
      guard let ttl = grant.ttl else { return grant.token }
      return now - grant.obtained < ttl * 2 / 3 ? grant.token : nil
    }
  }
}
