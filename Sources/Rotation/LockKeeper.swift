import Dispatch
import Foundation
import LockstepCore
import Synchronization

/// Owns the held lock record and its Vault version: every write of the lock (a completed
/// step, the evidence chain, a renewal) goes through here with check-and-set, one at a
/// time, so the heartbeat thread and the orchestrator never race each other's versions.
///
/// While a run is alive a heartbeat renews `expires_at` every third of the lock's TTL, so a
/// slow rollout never makes a running rotation look abandoned to `resume` elsewhere. A
/// renewal that loses its CAS (someone else took the lock) stops the heartbeat; the next
/// step's write then fails with the same conflict and the run stops.
final class LockKeeper: Sendable {
  private struct State {
    var record: LockRecord
    var version: Int
    var lost = false
  }

  let path: String
  let ttl: Duration
  private let store: any SecretStore
  private let state: Mutex<State>
  private let stop = DispatchSemaphore(value: 0)
  private let stopped = Mutex(false)

  init(store: any SecretStore, path: String, record: LockRecord, version: Int, ttl: Duration) {
    self.store = store
    self.path = path
    self.ttl = ttl
    state = Mutex(State(record: record, version: version))
  }

  var record: LockRecord { state.withLock { $0.record } }

  /// Applies `change` to the record and writes it with CAS on the version last written.
  func update(_ change: (inout LockRecord) -> Void) throws {
    try state.withLock { state in
      var next = state.record
      change(&next)
      do {
        state.version = try store.write(path, next.values, cas: state.version)
      } catch is StoreConflict {
        state.lost = true
        throw RotationError.stepFailed(
          step: "lock", reason: "the lock \(path) was changed by someone else")
      }
      state.record = next
    }
  }

  /// Starts renewing the expiry on a thread of its own until `stopHeartbeat`.
  func startHeartbeat() {
    let interval = max(ttl / 3, .seconds(1))
    let seconds = interval.inSeconds
    let thread = Thread { [self] in
      while stop.wait(timeout: .now() + seconds) == .timedOut {
        if state.withLock({ $0.lost }) { return }
        let expiry = Date().addingTimeInterval(ttl.inSeconds)
        // A failed renewal is not fatal here: the orchestrator's next write reports it.
        try? update { $0.expiresAt = expiry }
      }
    }
    thread.start()
  }

  func stopHeartbeat() {
    let first = stopped.withLock { done in
      defer { done = true }
      return !done
    }
    if first { stop.signal() }
  }

  deinit { stopHeartbeat() }
}
