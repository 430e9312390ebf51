import Foundation
import Kubernetes

extension SourceSpec {
  /// `k8s:NAMESPACE/DEPLOYMENT[/CONTAINER]`: each part by its kind's rule, so that no part
  /// can reach kubectl as a flag (`k8s:default/--kubeconfig=evil.yaml`).
  static func checkKubernetesNames(_ parts: [String], source: String) throws(DriftError) {
    let kinds: [KubernetesName.Kind] = [.namespace, .deployment, .container]
    for (part, kind) in zip(parts, kinds) {
      if let reason = KubernetesName.problem(part, as: kind) {
        throw .invalidName(source: KubernetesName.printable(source), reason: reason)
      }
    }
  }

  /// A source from a drift policy file: a name refused by its kind's rule is reported with
  /// the policy's path and the line the source is on (the YAML decoder keeps no lines).
  init(parsing text: String, policy path: String) throws(DriftError) {
    do {
      try self.init(parsing: text)
    } catch {
      guard case .invalidName(_, let reason) = error else { throw error }
      let lines =
        (try? String(contentsOfFile: path, encoding: .utf8))?
        .split(separator: "\n", omittingEmptySubsequences: false) ?? []
      let line = lines.firstIndex { $0.contains(text) }.map { ":\($0 + 1)" } ?? ""
      throw .policy(path: path + line, reason: reason)
    }
  }
}
