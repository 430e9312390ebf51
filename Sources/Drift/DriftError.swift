import EnvFiles
import LockstepCore

/// Why a drift check could not run. `drift` exits 1 for all of these (docs/drift.md), so
/// CI can tell "could not check" from "drift found" (2).
public enum DriftError: LockstepError, Equatable {
  case badSource(String)
  /// A name in a source that its kind's rule refuses (e.g. a Kubernetes namespace).
  case invalidName(source: String, reason: String)
  case unreadable(source: String, reason: String)
  case badPattern(String)
  case policy(path: String, reason: String)
  case unknownEnvironment(String, known: [String])

  public var exitStatus: ExitStatus {
    switch self {
    case .badSource, .badPattern, .invalidName: return .usage
    case .unreadable: return .failure
    case .policy, .unknownEnvironment: return .failure
    }
  }

  public var description: String {
    switch self {
    case .badSource(let text):
      return
        "\(text) is not a source; use dotenv:PATH, keys:PATH, vault:MOUNT/PATH, k8s:NAMESPACE/DEPLOYMENT[/CONTAINER], env:REGEX, code:GLOB or externalsecret:GLOB"
    case .unreadable(let source, let reason): return "cannot read \(source): \(reason)"
    case .invalidName(let source, let reason): return "\(source): \(reason)"
    case .badPattern(let pattern): return "\(pattern) is not a valid regular expression"
    case .policy(let path, let reason): return "drift policy \(path): \(reason)"
    case .unknownEnvironment(let name, let known):
      return
        "the drift policy has no environment \(name) (it has: \(known.joined(separator: ", ")))"
    }
  }
}
