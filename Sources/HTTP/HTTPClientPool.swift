import Foundation
import LockstepCore

/// N `HTTPClient`s, each on a dedicated thread, behind an async API.
///
/// libcurl's easy interface blocks; running it on Swift's cooperative pool would starve
/// every other task. Here each blocking transfer runs on a thread the pool owns, and each
/// thread keeps its own handle and therefore its own kept-alive connection, so N requests
/// in flight use N connections that are reused for the life of the pool.
public final class HTTPClientPool: Sendable {
  public let size: Int
  private let queue = JobQueue()

  public init(size: Int, settings: HTTPClient.Settings = HTTPClient.Settings()) {
    self.size = max(1, size)
    for index in 0..<self.size {
      let queue = queue
      let thread = Thread {
        // The client is created and destroyed on this thread only.
        let client = try? HTTPClient(settings: settings)
        while let job = queue.next() { job(client) }
      }
      thread.name = "lockstep-http-\(index)"
      thread.start()
    }
  }

  deinit { queue.close() }

  /// Runs `body` with one of the pool's clients on that client's thread. `body` may send
  /// several requests (a retry loop, a login then a read) and may block.
  public func run<T: Sendable>(
    _ body: @escaping @Sendable (HTTPClient) throws -> T
  ) async throws -> T {
    try Task.checkCancellation()
    return try await withCheckedThrowingContinuation { continuation in
      queue.push { client in
        guard let client else {
          continuation.resume(throwing: HTTPError.setup("curl_easy_init failed"))
          return
        }
        do { continuation.resume(returning: try body(client)) } catch {
          continuation.resume(throwing: error)
        }
      }
    }
  }

  /// One request on the next free client.
  public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
    try await run { try $0.send(request) }
  }
}

/// A FIFO of jobs for the pool's threads. `@unchecked Sendable`: `jobs` and `closed` are
/// only touched with `condition` locked.
private final class JobQueue: @unchecked Sendable {
  typealias Job = @Sendable (HTTPClient?) -> Void
  private let condition = NSCondition()
  private var jobs: [Job] = []
  private var head = 0
  private var closed = false

  func push(_ job: @escaping Job) {
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  /// The next job, waiting for one; nil once closed and drained, which ends the thread.
  func next() -> Job? {
    condition.lock()
    defer { condition.unlock() }
    while head == jobs.count && !closed { condition.wait() }
    guard head < jobs.count else { return nil }
    let job = jobs[head]
    head += 1
    if head > 1024 && head * 2 > jobs.count {
      jobs.removeFirst(head)
      head = 0
    }
    return job
  }

  func close() {
    condition.lock()
    closed = true
    condition.broadcast()
    condition.unlock()
  }
}
