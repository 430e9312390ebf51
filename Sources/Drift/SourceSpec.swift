/// A `SOURCE` argument: where a set of key names comes from.
public enum SourceSpec: Sendable, Equatable, CustomStringConvertible {
  case dotenv(path: String)
  case keys(path: String)
  case vault(path: String)
  case k8s(namespace: String, deployment: String, container: String?)
  case environment(pattern: String)
  case code(glob: String)
  /// `externalsecret:GLOB`: the keys ExternalSecret manifests give their Secrets.
  case externalSecret(glob: String)
  /// `externalsecret:k8s:NAMESPACE[/NAME]`: the same, read from the cluster through kubectl.
  case externalSecretCluster(namespace: String, name: String?)

  public init(parsing text: String) throws(DriftError) {
    guard let colon = text.firstIndex(of: ":") else { throw .badSource(text) }
    let kind = text[..<colon]
    let rest = String(text[text.index(after: colon)...])
    guard !rest.isEmpty else { throw .badSource(text) }
    switch kind {
    case "dotenv": self = .dotenv(path: rest)
    case "keys": self = .keys(path: rest)
    case "vault":
      guard rest.contains("/") else { throw .badSource(text) }
      self = .vault(path: rest)
    case "k8s":
      let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
        throw .badSource(text)
      }
      try Self.checkKubernetesNames(parts, source: text)
      self = .k8s(
        namespace: parts[0], deployment: parts[1], container: parts.count == 3 ? parts[2] : nil)
    case "env": self = .environment(pattern: rest)
    case "code": self = .code(glob: rest)
    case "externalsecret": self = try Self.externalSecret(rest, source: text)
    default: throw .badSource(text)
    }
  }

  public var description: String {
    switch self {
    case .dotenv(let path): return "dotenv:\(path)"
    case .keys(let path): return "keys:\(path)"
    case .vault(let path): return "vault:\(path)"
    case .k8s(let namespace, let deployment, let container):
      return "k8s:\(namespace)/\(deployment)" + (container.map { "/\($0)" } ?? "")
    case .environment(let pattern): return "env:\(pattern)"
    case .code(let glob): return "code:\(glob)"
    case .externalSecret(let glob): return "externalsecret:\(glob)"
    case .externalSecretCluster(let namespace, let name):
      return "externalsecret:k8s:\(namespace)" + (name.map { "/\($0)" } ?? "")
    }
  }
}
