import Kubernetes
import LockstepCore

/// `DeploymentTarget` on the real kubectl: secret material reaches it on stdin only.
public struct KubectlDeployments: DeploymentTarget {
  let base: KubectlClient.Configuration
  let recorder: (@Sendable (KubectlInvocation) -> Void)?

  public init(
    base: KubectlClient.Configuration = KubectlClient.Configuration(),
    recorder: (@Sendable (KubectlInvocation) -> Void)? = nil
  ) {
    self.base = base
    self.recorder = recorder
  }

  func client(_ namespace: String, _ context: String?) -> KubectlClient {
    var configuration = base
    configuration.namespace = namespace
    if let context { configuration.context = context }
    return KubectlClient(configuration, recorder: recorder)
  }

  public func updateSecret(
    namespace: String, name: String, values: [String: SecretBytes], context: String?
  ) async throws {
    try await client(namespace, context).applySecret(name, data: values)
  }

  public func patchEnv(
    namespace: String, deployment: String, container: String?, values: [String: SecretBytes],
    context: String?
  ) async throws {
    let client = client(namespace, context)
    let containers: [String]
    if let container {
      containers = [container]
    } else {
      containers = try await client.deployment(deployment).containers.map(\.name)
    }
    for name in containers {
      try await client.setEnv(deployment: deployment, container: name, values: values)
    }
  }

  public func restart(namespace: String, deployment: String, context: String?) async throws
    -> TemplateReferences?
  {
    try await client(namespace, context).rolloutRestart(deployment)
  }

  public func waitForRollout(
    namespace: String, deployment: String, timeout: Duration, context: String?,
    progress: @escaping @Sendable (String) -> Void
  ) async throws {
    try await client(namespace, context).rolloutStatus(
      deployment, timeout: timeout, progress: progress)
  }

  public func can(_ verb: String, _ resource: String, namespace: String, context: String?)
    async throws -> Bool
  {
    try await client(namespace, context).canI(verb, resource)
  }

  public func templateReferences(namespace: String, deployment: String, context: String?)
    async throws -> TemplateReferences?
  {
    try await client(namespace, context).templateReferences(deployment)
  }

  public func exists(kind: String, name: String, namespace: String, context: String?)
    async throws -> Bool
  {
    try await client(namespace, context).exists(kind, name)
  }
}
