import Kubernetes

/// Env names of a deployment through kubectl: every container's (or one container's)
/// variables, with `envFrom` Secrets and ConfigMaps expanded to their key names.
public struct KubectlDeploymentEnvSource: DeploymentEnvSource {
  public let configuration: KubectlClient.Configuration

  public init(configuration: KubectlClient.Configuration = .init()) {
    self.configuration = configuration
  }

  public func environmentNames(namespace: String, deployment: String, container: String?)
    async throws -> [String]
  {
    var settings = configuration
    settings.namespace = namespace
    let environments = try await KubectlClient(settings).environment(
      of: deployment, container: container)
    return Array(Set(environments.flatMap(\.names))).sorted()
  }
}
