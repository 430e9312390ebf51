import Foundation

/// The workload kinds whose pods Lockstep restarts after it changed what they read. All
/// three roll out with `kubectl rollout restart` / `rollout status`, each under its own
/// controller's rules (docs/kubernetes.md, "Workload kinds").
public enum WorkloadKind: String, Sendable, CaseIterable, Equatable {
  case deployment
  case statefulset
  case daemonset

  /// The resource as kubectl names it (`deployment/NAME`), in group `apps`.
  public var resource: String { rawValue }

  /// `deployment "NAME"`: how messages name a workload.
  public func label(_ name: String) -> String { "\(rawValue) \"\(name)\"" }

  /// The name rule of the kind: StatefulSet names are DNS-1123 labels (they become pod
  /// host names), the others DNS-1123 subdomains.
  public var nameKind: KubernetesName.Kind {
    self == .statefulset ? .namespace : .deployment
  }

  /// Why `name` cannot name a workload of this kind, or nil.
  public func nameProblem(_ name: String) -> String? {
    guard KubernetesName.problem(name, as: nameKind) != nil else { return nil }
    return self == .statefulset
      ? "statefulset \(KubernetesName.quoted(name)) is not a valid Kubernetes statefulset name "
        + "(a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and "
        + "ending with a letter or digit)"
      : KubernetesName.problem(name, as: .deployment)?.replacingOccurrences(
        of: "deployment", with: rawValue)
  }

  /// `name` if valid for this kind, else `KubernetesError.invalidName`.
  public func checked(_ name: String) throws(KubernetesError) -> String {
    if let reason = nameProblem(name) { throw .invalidName(reason) }
    return name
  }

  /// Whether the last line of `kubectl rollout status` says the rollout is done. kubectl's
  /// status viewers word it per kind: `deployment "x" successfully rolled out`,
  /// `daemon set "x" successfully rolled out`, and for a StatefulSet `partitioned roll out
  /// complete: N new pods have been updated...` (a RollingUpdate StatefulSet always has a
  /// partition, 0 by default) or `statefulset rolling update complete N pods at revision …`.
  public func rolloutFinished(_ line: String) -> Bool {
    switch self {
    case .deployment, .daemonset: line.contains("successfully rolled out")
    case .statefulset:
      line.hasPrefix("partitioned roll out complete")
        || line.hasPrefix("statefulset rolling update complete")
    }
  }
}
