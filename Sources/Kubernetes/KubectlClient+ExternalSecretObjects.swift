import Foundation
import LockstepCore

extension KubectlClient {
  /// kubectl's JSON for the namespace's ExternalSecret objects (a List), or for one of
  /// them. The resource is fully qualified so no other group's `externalsecrets` answers;
  /// the name goes after `--`, so it can never be read as a flag. An ExternalSecret holds
  /// store references, not values.
  public func externalSecretObjects(named name: String?) async throws(KubernetesError)
    -> [UInt8]
  {
    let resource = "externalsecrets.external-secrets.io"
    var arguments = ["get", resource, "-o=json"]
    if let name { arguments += ["--", name] }
    let result = try await kubectl(
      arguments, action: "read the ExternalSecret objects",
      target: (kind: "externalsecret", name: name ?? "*"))
    return result.stdout
  }
}
