import Kubernetes
import LockstepCore

extension BlastRadius {
  /// The key names of each Kubernetes Secret the policy writes (`NS/NAME` → keys), through
  /// kubectl; a Secret that cannot be read is reported in `unreadable` with the reason, not
  /// fatal (the plan still shows the live secret's keys).
  public static func secretKeys(
    policy: RotationPolicy, base: KubectlClient.Configuration = KubectlClient.Configuration()
  ) async -> (keys: [(String, [String])], unreadable: [String]) {
    var seen = Set<String>()
    var keys: [(String, [String])] = []
    var unreadable: [String] = []
    for target in policy.kubernetes where target.mode == .secret {
      let name = target.secretName ?? target.deployment
      let label = "\(target.namespace)/\(name)"
      guard seen.insert("\(target.context ?? "")/\(label)").inserted else { continue }
      var configuration = base
      configuration.namespace = target.namespace
      if let context = target.context { configuration.context = context }
      do {
        keys.append((label, try await KubectlClient(configuration).secretKeys(name)))
      } catch {
        unreadable.append("kubernetes secret \(label): \(error.description)")
      }
    }
    return (keys, unreadable)
  }
}
