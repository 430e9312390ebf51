import Foundation
import LockstepCore

extension VaultClient {
  /// Every secret path below the folder `prefix` (`mount/` or `mount/some/folder`), as
  /// `mount/path`, sorted. Lists run `configuration.parallelism` at a time.
  public func walk(_ prefix: String) async throws -> [String] {
    try await traverse(prefix, reading: false).paths
  }

  /// Lists and reads every secret below `prefix`, the reads starting as soon as their
  /// folder is listed, `configuration.parallelism` requests in flight over kept-alive
  /// connections. Sorted by path. A secret whose latest version is deleted or destroyed
  /// has no data to read and is left out (its metadata still lists it), as is one removed
  /// between its folder's listing and its read.
  public func readAll(under prefix: String) async throws -> [VaultSecret] {
    try await traverse(prefix, reading: true).secrets
  }

  /// Like `readAll`, but hands each secret to `body` as soon as it is read instead of
  /// collecting them, so that memory does not grow with the number of secrets (a backup
  /// streams them into its file). `body` runs on the walk's HTTP threads, one call at a time
  /// per thread (it may block; it must do its own locking); order is arrival order. A
  /// `body` that throws stops the walk with that error. Returns the number of secrets.
  public func readEach(
    under prefix: String, _ body: @escaping @Sendable (VaultSecret) throws -> Void
  ) async throws -> Int {
    try await traverse(prefix, reading: true, deliver: body).delivered
  }

  /// Reads the given paths (latest versions) with bounded parallelism, in the given order.
  public func read(paths: [String]) async throws -> [VaultSecret] {
    let limit = max(1, configuration.parallelism)
    return try await withThrowingTaskGroup(of: (Int, VaultSecret).self) { group in
      var results = [VaultSecret?](repeating: nil, count: paths.count)
      var next = 0
      func launch() {
        let index = next
        let path = paths[index]
        next += 1
        group.addTask { (index, try await self.read(path)) }
      }
      while next < min(limit, paths.count) { launch() }
      while let (index, secret) = try await group.next() {
        results[index] = secret
        if next < paths.count { launch() }
      }
      return results.compactMap { $0 }
    }
  }

  /// Each of `parallelism` pool threads runs a loop that takes the next list or read from
  /// a shared queue, so a request costs no task switch or continuation: the threads only
  /// meet at the queue, and each keeps its one connection busy.
  private func traverse(
    _ prefix: String, reading: Bool,
    deliver: (@Sendable (VaultSecret) throws -> Void)? = nil
  ) async throws
    -> (paths: [String], secrets: [VaultSecret], delivered: Int)
  {
    let root = prefix.split(separator: "/").joined(separator: "/") + "/"
    let state = WalkState(root: root, reading: reading, keeping: deliver == nil)
    try await withThrowingTaskGroup(of: Void.self) { group in
      for _ in 0..<max(1, configuration.parallelism) {
        group.addTask {
          try await self.onPool { client in
            while let work = state.next() {
              do {
                switch work {
                case .list(let folder):
                  state.listed(folder: folder, names: try self.list(client, folder))
                case .read(let path):
                  do {
                    let secret = try self.read(client, path, version: nil)
                    if let deliver {
                      try deliver(secret)
                      state.delivered()
                    } else {
                      state.read(secret)
                    }
                  } catch VaultError.versionDeleted, VaultError.versionDestroyed,
                    VaultError.notFound
                  {
                    // Deleted since it was listed, or its latest version is: nothing to read.
                    state.read(nil)
                  }
                }
              } catch {
                state.fail(error)
              }
            }
          }
        }
      }
      try await group.waitForAll()
    }
    return try state.result()
  }
}

/// The shared work queue of one walk. `@unchecked Sendable`: every field is read and
/// written with `condition` locked.
private final class WalkState: @unchecked Sendable {
  enum Work {
    case list(String)
    case read(String)
  }

  private let condition = NSCondition()
  private let reading: Bool
  /// False when each secret is handed to a consumer: neither paths nor secrets are kept.
  private let keeping: Bool
  private var deliveredCount = 0
  private var pending: [Work]
  private var active = 0
  private var paths: [String] = []
  private var secrets: [VaultSecret] = []
  private var failure: (any Error)?

  init(root: String, reading: Bool, keeping: Bool = true) {
    self.reading = reading
    self.keeping = keeping
    pending = [.list(root)]
  }

  /// The next piece of work, waiting while others may still add some; nil when done.
  func next() -> Work? {
    condition.lock()
    defer { condition.unlock() }
    while pending.isEmpty && active > 0 && failure == nil { condition.wait() }
    guard failure == nil, let work = pending.popLast() else {
      condition.broadcast()
      return nil
    }
    active += 1
    return work
  }

  func listed(folder: String, names: [String]) {
    condition.lock()
    // Folders go below reads on the stack, so listed reads are served first and the
    // breadth of the tree does not pile up in memory.
    for name in names where name.hasSuffix("/") { pending.insert(.list(folder + name), at: 0) }
    for name in names where !name.hasSuffix("/") {
      if keeping { paths.append(folder + name) }
      if reading { pending.append(.read(folder + name)) }
    }
    done()
  }

  func read(_ secret: VaultSecret?) {
    condition.lock()
    if let secret { secrets.append(secret) }
    done()
  }

  func delivered() {
    condition.lock()
    deliveredCount += 1
    done()
  }

  func fail(_ error: any Error) {
    condition.lock()
    if failure == nil { failure = error }
    done()
  }

  /// Called with the lock held; releases it.
  private func done() {
    active -= 1
    condition.broadcast()
    condition.unlock()
  }

  func result() throws -> (paths: [String], secrets: [VaultSecret], delivered: Int) {
    condition.lock()
    defer { condition.unlock() }
    if let failure { throw failure }
    return (paths.sorted(), secrets.sorted { $0.path < $1.path }, deliveredCount)
  }
}
