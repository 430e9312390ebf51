import Kubernetes

/// ExternalSecret objects through kubectl (`KUBECONFIG`, current context), for
/// `externalsecret:k8s:NAMESPACE[/NAME]`.
public struct KubectlExternalSecretSource: ExternalSecretObjectSource {
  public let configuration: KubectlClient.Configuration

  public init(configuration: KubectlClient.Configuration = .init()) {
    self.configuration = configuration
  }

  public func externalSecretObjects(namespace: String, name: String?) async throws -> [UInt8] {
    var settings = configuration
    settings.namespace = namespace
    return try await KubectlClient(settings).externalSecretObjects(named: name)
  }
}
