/// The rule each Kubernetes name follows, checked where a name enters Lockstep (policy
/// files, drift sources) so that a hostile or mistyped name is refused with its place, and
/// never reaches kubectl's argv, where a name such as `--kubeconfig=evil.yaml` would be read
/// as a flag.
///
/// The rules are kube-apiserver's (k8s.io/apimachinery/pkg/util/validation): a value that
/// passes here is one the API server could hold, so refusing others loses nothing.
public enum KubernetesName {
  public enum Kind: String, Sendable {
    /// DNS-1123 label (ValidateNamespaceName).
    case namespace
    /// DNS-1123 subdomain (apps ValidateDeploymentName).
    case deployment
    /// DNS-1123 subdomain (ValidateSecretName).
    case secret
    /// DNS-1123 subdomain (ValidateConfigMapName).
    case configMap = "config map"
    /// DNS-1123 label (validateContainers).
    case container
    /// A kubeconfig context: any text, but not one kubectl could read as a flag or that
    /// could forge a line in a terminal or log.
    case context
  }

  /// Why `name` is not a valid name of `kind`, or nil when it is.
  public static func problem(_ name: String, as kind: Kind) -> String? {
    switch kind {
    case .namespace, .container:
      return isLabel(name)
        ? nil
        : "\(kind.rawValue) \(quoted(name)) is not a valid Kubernetes \(kind.rawValue) name "
          + "(a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and "
          + "ending with a letter or digit)"
    case .deployment, .secret, .configMap:
      return isSubdomain(name)
        ? nil
        : "\(kind.rawValue) \(quoted(name)) is not a valid Kubernetes \(kind.rawValue) name "
          + "(a DNS-1123 subdomain: at most 253 lower-case letters, digits, '-' and '.', each "
          + "part starting and ending with a letter or digit)"
    case .context:
      if name.isEmpty { return "the kubectl context name is empty" }
      if name.hasPrefix("-") {
        return "the kubectl context \(quoted(name)) starts with '-' and would be read as a flag"
      }
      if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
        return "the kubectl context \(quoted(name)) contains control characters"
      }
      return nil
    }
  }

  /// `name` if valid, else `KubernetesError.invalidName`.
  public static func checked(_ name: String, as kind: Kind) throws(KubernetesError) -> String {
    if let reason = problem(name, as: kind) { throw .invalidName(reason) }
    return name
  }

  /// RFC 1123 label as Kubernetes restricts it: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63
  /// (IsDNS1123Label).
  static func isLabel(_ name: String) -> Bool {
    name.utf8.count <= 63 && hasLabelShape(Substring(name))
  }

  /// Labels joined by dots, ≤ 253 in all; the parts have no length limit of their own
  /// (IsDNS1123Subdomain).
  static func isSubdomain(_ name: String) -> Bool {
    guard name.utf8.count <= 253 else { return false }
    return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(
      hasLabelShape)
  }

  private static func hasLabelShape(_ part: Substring) -> Bool {
    let bytes = Array(part.utf8)
    guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first),
      isAlphanumeric(last)
    else { return false }
    return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
  }

  private static func isAlphanumeric(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
      || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
  }

  /// The name in quotes with control characters escaped, so a hostile name cannot paint the
  /// terminal it is reported on.
  static func quoted(_ name: String) -> String {
    "\"" + printable(name) + "\""
  }

  /// `text` with control characters, quotes and backslashes escaped, at most 300 characters.
  public static func printable(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars.prefix(300) {
      if scalar.properties.generalCategory == .control || scalar == "\"" || scalar == "\\" {
        result += scalar.escaped(asASCII: true)
      } else {
        result.unicodeScalars.append(scalar)
      }
    }
    return result
  }
}
