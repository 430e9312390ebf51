import LockstepCore

/// Why a hook did not apply the new values; each description is one sentence without a
/// value (the hook's own output is reduced to a checked summary first).
public enum HookError: LockstepError, Equatable {
  case notExecutable(hook: String, path: String)
  case notUTF8(hook: String, key: String)
  case couldNotStart(hook: String, reason: String)
  case failed(hook: String, status: Int32, summary: String)
  case timedOut(hook: String, after: Duration)

  public var description: String {
    switch self {
    case .notExecutable(let hook, let path):
      "hook \(hook): \(path) is not an executable file"
    case .notUTF8(let hook, let key):
      "hook \(hook): the value of \(key) is not UTF-8 text, so it cannot be sent in the hook's JSON document"
    case .couldNotStart(let hook, let reason):
      "hook \(hook) could not be started: \(reason)"
    case .failed(let hook, let status, let summary):
      "hook \(hook) failed with exit status \(status)\(summary.isEmpty ? "" : ": \(summary)")"
    case .timedOut(let hook, let after):
      "hook \(hook) did not finish within \(after) and was killed with its process group"
    }
  }

  public var exitStatus: ExitStatus { .failure }
}
