import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// Runs a policy's hook: the values go on stdin as one JSON document (`HookInvocation`),
/// never in argv or the environment; the environment is rebuilt from a short list (PATH,
/// HOME, LANG and the variables the policy names), so Lockstep's own credentials
/// (`VAULT_TOKEN`, a `REDIS_URL` with its password…) never reach the hook; a timeout kills
/// the hook's whole process group. What comes back is the exit status and a summary (the
/// first line of stdout, capped) that is withheld when it echoes any value that was sent.
public struct HookRunner: Sendable {
  /// The longest summary kept, in bytes.
  public static let summaryLimit = 200

  public struct Outcome: Sendable, Equatable {
    public var status: Int32
    /// The first line of the hook's stdout, escaped and capped; "" when it printed nothing,
    /// and a placeholder when it echoed a value it was sent.
    public var summary: String
    public var summaryWithheld: Bool
    public var attempt: Int
    public var resumed: Bool
    public var elapsed: Duration

    public var milliseconds: Int {
      Int(elapsed.components.seconds * 1000)
        + Int(elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Fields for the evidence record (never a value).
    public var evidence: [String: Any] {
      [
        "exit_status": Int(status), "summary": summary, "summary_withheld": summaryWithheld,
        "attempt": attempt, "resumed": resumed,
        "milliseconds": Int(elapsed.components.seconds * 1000)
          + Int(elapsed.components.attoseconds / 1_000_000_000_000_000),
      ]
    }
  }

  /// The environment the hook's variables are taken from (the process's by default).
  public var parentEnvironment: [String: String]

  public init(parentEnvironment: [String: String] = ProcessInfo.processInfo.environment) {
    self.parentEnvironment = parentEnvironment
  }

  /// The hook's whole environment: nothing of ours but what is listed here.
  public func environment(for hook: HookSpec) -> [String: String] {
    var environment = [
      "PATH": parentEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
      "LANG": "C.UTF-8", "LOCKSTEP_HOOK": hook.name,
    ]
    if let home = parentEnvironment["HOME"] { environment["HOME"] = home }
    for name in hook.passEnvironment where !HookSpec.withheldEnvironment.contains(name) {
      if let value = parentEnvironment[name] { environment[name] = value }
    }
    return environment
  }

  /// Runs the hook to completion; blocks the calling thread (see the async variant).
  public func run(_ hook: HookSpec, _ invocation: HookInvocation) throws(HookError) -> Outcome {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: hook.executable, isDirectory: &isDirectory),
      !isDirectory.boolValue, access(hook.executable, X_OK) == 0
    else { throw .notExecutable(hook: hook.name, path: hook.executable) }
    let document = try invocation.render(hook: hook.name).get()
    let clock = ContinuousClock()
    let start = clock.now
    let result: ChildProcess.Result
    do {
      result = try ChildProcess.run(
        hook.executable, hook.arguments, environment: environment(for: hook), stdin: document,
        timeout: hook.timeout)
    } catch {
      throw .couldNotStart(hook: hook.name, reason: error.description)
    }
    var stdout = result.stdout
    var stderr = result.stderr
    defer {
      SecretBytes.wipe(&stdout)
      SecretBytes.wipe(&stderr)
    }
    if result.timedOut { throw .timedOut(hook: hook.name, after: hook.timeout) }
    let (summary, withheld) = Self.summary(of: stdout, sent: invocation.allValues)
    let outcome = Outcome(
      status: result.status, summary: summary, summaryWithheld: withheld,
      attempt: invocation.attempt, resumed: invocation.resumed, elapsed: clock.now - start)
    guard result.status == 0 else {
      // stderr is where a failing tool explains itself; it gets the same check.
      let (reason, _) =
        summary.isEmpty ? Self.summary(of: stderr, sent: invocation.allValues) : (summary, withheld)
      throw .failed(hook: hook.name, status: result.status, summary: reason)
    }
    return outcome
  }

  /// The same on a thread of its own, for async callers.
  public func run(_ hook: HookSpec, _ invocation: HookInvocation) async throws(HookError)
    -> Outcome
  {
    let outcome: Result<Outcome, HookError> = await withCheckedContinuation { continuation in
      Thread {
        do throws(HookError) {
          continuation.resume(returning: .success(try self.run(hook, invocation)))
        } catch {
          continuation.resume(returning: .failure(error))
        }
      }.start()
    }
    return try outcome.get()
  }

  /// The first non-empty line of `output`, capped at `summaryLimit` bytes and escaped;
  /// withheld when it contains
  /// any value that was sent, or any 8-byte run of one (a hook that prints half a key has
  /// still printed a key).
  static func summary(of output: [UInt8], sent: [SecretBytes]) -> (String, Bool) {
    let line =
      output.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).first
      .map { Array($0.prefix(summaryLimit)) } ?? []
    guard !line.isEmpty else { return ("", false) }
    for value in sent where !value.isEmpty {
      let leaked = value.withUnsafeBytes { raw -> Bool in
        let bytes = Array(raw)
        let window = min(8, bytes.count)
        var found = false
        for start in 0...(bytes.count - window) where !found {
          found = contains(line, bytes[start..<start + window])
        }
        return found
      }
      if leaked { return ("<summary withheld: it contained a value sent to the hook>", true) }
    }
    var text = UntrustedText.escaped(String(decoding: line, as: UTF8.self))
    if text.utf8.count > summaryLimit {
      text = String(decoding: text.utf8.prefix(summaryLimit), as: UTF8.self) + "…"
    }
    return (text, false)
  }

  private static func contains(_ haystack: [UInt8], _ needle: ArraySlice<UInt8>) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count)
    where haystack[start..<start + needle.count].elementsEqual(needle) {
      return true
    }
    return false
  }
}
