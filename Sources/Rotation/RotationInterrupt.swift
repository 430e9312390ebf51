import Synchronization

/// A SIGINT or SIGTERM received during a rotation. The command's signal handler raises it;
/// the orchestrator looks at it between steps (and between deployments), so the write in
/// progress always completes and is recorded before the run stops, resumable.
public final class RotationInterrupt: Sendable {
  private let received = Mutex<Int32?>(nil)

  public init() {}

  /// Records the first signal; returns false for a repeated one.
  @discardableResult
  public func raise(_ signal: Int32) -> Bool {
    received.withLock { current in
      guard current == nil else { return false }
      current = signal
      return true
    }
  }

  public var signal: Int32? { received.withLock { $0 } }
}
