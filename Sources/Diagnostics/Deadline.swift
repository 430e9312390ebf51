import Dispatch
import Synchronization

/// Runs `body` (one system's checks) and returns what its log holds when it finishes or when
/// `timeout` passes, whichever comes first.
///
/// The work is left running past the deadline rather than awaited: a libpq connect or a
/// kubectl child blocked on a black-holed address cannot be cancelled, and `doctor` must
/// answer within seconds regardless. Blocking calls run on their own threads (see
/// `onDedicatedThread`), so an abandoned one holds no thread of the cooperative pool.
func collect(
  _ log: CheckLog, within timeout: Duration, subject: String,
  _ body: @escaping @Sendable (CheckLog) async -> Void
) async -> [CheckResult] {
  await withCheckedContinuation { (continuation: CheckedContinuation<[CheckResult], Never>) in
    let pending = Pending(continuation)
    // A Dispatch timer, not Task.sleep: it fires even when every thread of the cooperative
    // pool is busy, which is exactly when a deadline matters.
    let timer = DispatchWorkItem {
      let seconds = Checkup.format(timeout)
      pending.take()?.resume(
        returning: log.snapshot(interrupted: { running in
          .failed(
            log.system, running, "no answer within \(seconds) s",
            problem: "\(subject) did not answer within \(seconds) s (\(running)).")
        }))
    }
    let nanoseconds =
      timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
    DispatchQueue.global().asyncAfter(
      deadline: .now() + .nanoseconds(Int(nanoseconds)), execute: timer)
    Task {
      await body(log)
      timer.cancel()
      pending.take()?.resume(returning: log.snapshot())
    }
  }
}

/// The continuation of `collect`, resumed by whichever of the work and the timer ends first.
private final class Pending: Sendable {
  private let continuation: Mutex<CheckedContinuation<[CheckResult], Never>?>

  init(_ continuation: CheckedContinuation<[CheckResult], Never>) {
    self.continuation = Mutex(continuation)
  }

  func take() -> CheckedContinuation<[CheckResult], Never>? {
    continuation.withLock { $0.take() }
  }
}
