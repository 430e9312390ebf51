extension SourceSpec {
  /// `externalsecret:GLOB` or `externalsecret:k8s:NAMESPACE[/NAME]`. The cluster form's
  /// names are checked by their DNS-1123 rules here, before they can reach kubectl's argv.
  static func externalSecret(_ rest: String, source: String) throws(DriftError) -> SourceSpec {
    guard rest.hasPrefix("k8s:") else { return .externalSecret(glob: rest) }
    let parts = rest.dropFirst(4).split(separator: "/", omittingEmptySubsequences: false)
      .map(String.init)
    guard parts.count == 1 || parts.count == 2, isLabel(parts[0]),
      parts.count == 1 || isSubdomain(parts[1])
    else { throw .badSource(source) }
    return .externalSecretCluster(namespace: parts[0], name: parts.count == 2 ? parts[1] : nil)
  }

  /// A DNS-1123 label (a namespace): `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
  static func isLabel(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty, bytes.count <= 63, bytes.first != 0x2D, bytes.last != 0x2D else {
      return false
    }
    return bytes.allSatisfy {
      (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D
    }
  }

  /// A DNS-1123 subdomain (an object name): labels joined by dots, at most 253.
  static func isSubdomain(_ text: String) -> Bool {
    text.utf8.count <= 253
      && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy {
        isLabel(String($0))
      }
  }
}
