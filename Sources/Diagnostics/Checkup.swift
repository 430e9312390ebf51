import Foundation
import LockstepCore

/// `lockstep doctor`: can each configured outside system be reached, with credentials that
/// work, and (given a rotation policy) with the rights a rotation will need?
///
/// Only what is configured is checked, the way each ecosystem configures itself: Vault when
/// `VAULT_ADDR` is set, PostgreSQL when a `PG*` connection variable is, Redis when
/// `REDIS_URL` is, kubectl when it is on `PATH` and a kubeconfig exists, S3 when
/// `AWS_ENDPOINT_URL` or an `s3://` `LOCKSTEP_BACKUP_URL` is. A policy adds every system
/// its targets name, configured or not, since `rotate run` will need them.
///
/// Systems are checked concurrently, each within `timeout`, so a server that is down or
/// black-holed costs seconds, not the minutes of a client's default time-outs.
public struct Checkup: Sendable {
  public var environment: [String: String]
  /// A rotation policy's requirements (`RotationPreflight.doctorPlan`), nil without
  /// `--policy`.
  public var policy: PreflightPlan?
  /// How long one system's checks may take in all.
  public var timeout: Duration

  /// The default of `timeout` (and of `doctor --timeout`), in seconds. It must fit a cold
  /// machine, not a warm one: the first kubectl run after boot goes through the dispatcher
  /// (which asks the API server's `/version` before re-executing `kubectl.1.N`) and loads
  /// the real binary from disk, two runs in a row for the context and the API check. 2.5 s
  /// failed the README's first `make demo` on a fresh machine; 10 s leaves room for a
  /// kubectl that takes 3 s a run (a test holds this) and still answers a black-holed
  /// server in seconds.
  public static let defaultTimeoutSeconds: Double = 10

  public init(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    policy: PreflightPlan? = nil, timeout: Duration = .seconds(Checkup.defaultTimeoutSeconds)
  ) {
    self.environment = environment
    self.policy = policy
    self.timeout = timeout
  }

  /// Runs every check and returns the lines in a fixed order (Vault, PostgreSQL, Redis,
  /// kubectl, S3), whatever order they finished in.
  public func run() async -> CheckupReport {
    let systems = plan()
    let results = await withTaskGroup(of: (Int, [CheckResult]).self) { group in
      for (index, system) in systems.enumerated() {
        group.addTask {
          switch system {
          case .done(let results):
            return (index, results)
          case .run(let log, let subject, let body):
            return (index, await collect(log, within: timeout, subject: subject, body))
          }
        }
      }
      var byIndex: [Int: [CheckResult]] = [:]
      for await (index, results) in group { byIndex[index] = results }
      return systems.indices.flatMap { byIndex[$0] ?? [] }
    }
    return CheckupReport(results: results)
  }

  /// One system: either lines known without asking anything (not configured), or checks to
  /// run against a deadline.
  enum SystemPlan: Sendable {
    case done([CheckResult])
    case run(CheckLog, subject: String, @Sendable (CheckLog) async -> Void)
  }

  func plan() -> [SystemPlan] {
    [vaultPlan(), postgresPlan(), redisPlan(), kubernetesPlan(), objectStorePlan()]
  }

  /// A non-empty value of `name` in the environment.
  func value(_ name: String) -> String? {
    guard let text = environment[name], !text.isEmpty else { return nil }
    return text
  }

  /// Client time-outs inside the overall deadline, so a client's own error (with its
  /// reason) usually arrives before the deadline's generic one.
  public var clientTimeout: Duration {
    max(timeout - .milliseconds(500), .milliseconds(500))
  }

  static func format(_ duration: Duration) -> String {
    let milliseconds =
      duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    if milliseconds % 1000 == 0 { return String(milliseconds / 1000) }
    return String(format: "%.1f", Double(milliseconds) / 1000)
  }

  /// The first sentence of an error's description with the trailing full stop removed, for
  /// embedding in a sentence of our own.
  static func clause(_ error: any Error) -> String {
    var text = String(describing: error).trimmingCharacters(in: .whitespacesAndNewlines)
    while text.hasSuffix(".") { text.removeLast() }
    guard let first = text.first else { return text }
    // "Connection refused by …" reads better mid-sentence in lower case; names such as
    // "Redis at …" must keep their capital.
    let word = text.prefix { $0.isLetter }
    if first.isUppercase, lowercasedOpenings.contains(String(word)) {
      return first.lowercased() + text.dropFirst()
    }
    return text
  }

  static let lowercasedOpenings: Set<String> = [
    "Connection", "Could", "Cannot", "The", "No", "Permission", "Access", "Check",
  ]

  /// An error's own sentence, ending with a full stop.
  static func sentence(_ error: any Error) -> String {
    finish(String(describing: error))
  }

  /// `text` as a sentence: ends with a full stop unless it already ends with punctuation.
  static func finish(_ text: String) -> String {
    var text = text.trimmingCharacters(in: .whitespacesAndNewlines)
    while text.hasSuffix("..") { text.removeLast() }
    guard let last = text.last, !".?!".contains(last) else { return text }
    return text + "."
  }
}
