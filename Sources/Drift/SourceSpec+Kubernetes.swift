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
}
