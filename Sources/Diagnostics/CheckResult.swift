/// One line of `lockstep doctor`: what was checked, how it went, and for a failure the one
/// sentence a user can act on.
public struct CheckResult: Sendable, Equatable {
  public enum Status: String, Sendable, Equatable {
    case passed, failed, skipped

    /// The mark printed in front of the line.
    public var symbol: String {
      switch self {
      case .passed: "✔"
      case .failed: "✘"
      case .skipped: "–"
      }
    }
  }

  /// The outside system the check belongs to (`Vault`, `PostgreSQL`, …), for grouping.
  public let system: String
  /// What was checked, short enough to line up in a column (`Vault token`).
  public let name: String
  public let status: Status
  /// What was found: an address, a version, the reason a check was skipped.
  public let detail: String
  /// For a failure, the sentence printed on stderr; it names the system and never a secret.
  public let problem: String?

  public init(
    system: String, name: String, status: Status, detail: String, problem: String? = nil
  ) {
    self.system = system
    self.name = name
    self.status = status
    self.detail = detail
    self.problem = status == .failed ? (problem ?? "\(name): \(detail)") : nil
  }

  public static func passed(_ system: String, _ name: String, _ detail: String) -> CheckResult {
    CheckResult(system: system, name: name, status: .passed, detail: detail)
  }

  public static func skipped(_ system: String, _ name: String, _ detail: String) -> CheckResult {
    CheckResult(system: system, name: name, status: .skipped, detail: detail)
  }

  public static func failed(
    _ system: String, _ name: String, _ detail: String, problem: String
  ) -> CheckResult {
    CheckResult(system: system, name: name, status: .failed, detail: detail, problem: problem)
  }
}
