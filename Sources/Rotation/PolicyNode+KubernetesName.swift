import Kubernetes

extension PolicyNode {
  /// A Kubernetes name checked by its kind's rule (KubernetesName), refused with this file
  /// and line, so no policy can hand kubectl a flag for a name.
  func kubernetesName(_ kind: KubernetesName.Kind) throws(PolicyError) -> String {
    let name = try string()
    if let reason = KubernetesName.problem(name, as: kind) { throw fail(reason) }
    return name
  }
}
