import Dispatch
import Foundation
import Synchronization

/// Runs async work to completion from synchronous code on a thread that may block.
///
/// The rotation path no longer uses it (it is async end to end, and runs libpq and hiredis
/// through `onDedicatedThread`); it stays for synchronous code that must call an async
/// client. Never call it from a task on Swift's cooperative pool: the semaphore would hold
/// a pool thread hostage.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
  let result = Mutex<Result<T, any Error>?>(nil)
  let done = DispatchSemaphore(value: 0)
  Task {
    let outcome: Result<T, any Error>
    do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
    result.withLock { $0 = outcome }
    done.signal()
  }
  done.wait()
  return try result.withLock { $0! }.get()
}

/// Runs blocking work on a new thread and awaits it, so that an async command can call a
/// synchronous workflow without blocking the cooperative pool.
public func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws
  -> T
{
  try await withCheckedThrowingContinuation { continuation in
    let thread = Thread { continuation.resume(with: Result { try body() }) }
    thread.stackSize = 8 << 20
    thread.start()
  }
}
