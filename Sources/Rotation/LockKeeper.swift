import Foundation
import LockstepCore
import Synchronization

/// Owns the held lock record and its Vault version: every write of the lock (a completed
/// step, the evidence chain, a renewal) goes through here with check-and-set, one at a
/// time, so the heartbeat and the orchestrator never race each other's versions.
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
    var heartbeat: Task<Void, Never>?
  }

  let path: String
  let ttl: Duration
  private let store: any SecretStore
  private let state: Mutex<State>
  private let gate = SerialGate()

  init(store: any SecretStore, path: String, record: LockRecord, version: Int, ttl: Duration) {
    self.store = store
    self.path = path
    self.ttl = ttl
    state = Mutex(State(record: record, version: version))
  }

  var record: LockRecord { state.withLock { $0.record } }

  /// Applies `change` to the record and writes it with CAS on the version last written.
  func update(_ change: @escaping @Sendable (inout LockRecord) -> Void) async throws {
    try await gate.run { [self] in
      var (next, version) = state.withLock { ($0.record, $0.version) }
      change(&next)
      do {
        let written = try await store.write(path, next.values, cas: version)
        state.withLock {
          $0.version = written
          $0.record = next
        }
      } catch is StoreConflict {
        state.withLock { $0.lost = true }
        throw RotationError.stepFailed(
          step: "lock", reason: "the lock \(path) was changed by someone else")
      }
    }
  }

  /// Starts renewing the expiry until `stopHeartbeat`.
  func startHeartbeat() {
    let interval = max(ttl / 3, .seconds(1))
    let task = Task { [self] in
      while !Task.isCancelled {
        try? await Task.sleep(for: interval)
        if Task.isCancelled || state.withLock({ $0.lost }) { return }
        let expiry = Date().addingTimeInterval(ttl.inSeconds)
        // A failed renewal is not fatal here: the orchestrator's next write reports it.
        try? await update { $0.expiresAt = expiry }
      }
    }
    state.withLock { $0.heartbeat = task }
  }

  func stopHeartbeat() {
    state.withLock { $0.heartbeat }?.cancel()
  }

  deinit { stopHeartbeat() }
}

/// Runs async bodies one after the other, in the order they were submitted.
actor SerialGate {
  private var tail: Task<Void, Never>?

  func run(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let previous = tail
    let task = Task {
      await previous?.value
      try await body()
    }
    tail = Task { _ = try? await task.value }
    try await task.value
  }
}
