import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Removes the temporary files of uncommitted `AtomicFile`s when the process is stopped by
/// SIGTERM, SIGINT or SIGHUP, as on any other failure: a `decrypt --out` interrupted half
/// way must not leave the plaintext so far in `.NAME.*.tmp`.
///
/// The handler may only make async-signal-safe calls, so the paths live in a fixed table
/// of C strings that it reads without a lock (each slot is one pointer-sized store);
/// registration from threads is serialised by a mutex. After unlinking, the default action
/// is restored and the signal raised again, so the exit status still says which signal.
enum TemporaryFileCleanup {
  static let capacity = 64
  /// `@unchecked Sendable`: slots are written under `lock` and read by the signal handler
  /// with single pointer-sized loads.
  final class Table: @unchecked Sendable {
    let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(
      capacity: TemporaryFileCleanup.capacity)
    let lock = Mutex(())
    init() { slots.initialize(repeating: nil, count: TemporaryFileCleanup.capacity) }
  }

  static let table = Table()

  private static let installed: Void = {
    for sig in [SIGTERM, SIGINT, SIGHUP] {
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { sig in
        let table = TemporaryFileCleanup.table
        for index in 0..<TemporaryFileCleanup.capacity {
          if let path = table.slots[index] { unlink(path) }
        }
        signal(sig, SIG_DFL)
        raise(sig)
      }
      sigemptyset(&action.sa_mask)
      action.sa_flags = 0
      sigaction(sig, &action, nil)
    }
    // A thread started from Dispatch may run with these blocked (and children inherit
    // that); this thread at least takes them.
    var set = sigset_t()
    sigemptyset(&set)
    for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, sig) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
  }()

  /// Remembers `path`; returns its slot (nil when the table is full: the file is then only
  /// removed on ordinary failures).
  static func register(_ path: String) -> Int? {
    _ = installed
    let copy = strdup(path)
    return table.lock.withLock { _ in
      for index in 0..<capacity where table.slots[index] == nil {
        table.slots[index] = copy
        return index
      }
      free(copy)
      return nil
    }
  }

  static func unregister(_ slot: Int?) {
    guard let slot else { return }
    table.lock.withLock { _ in
      let path = table.slots[slot]
      table.slots[slot] = nil
      free(path)
    }
  }
}
