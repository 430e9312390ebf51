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
    namespace: String, kind: WorkloadKind, deployment: String, container: String?,
    values: [String: SecretBytes], context: String?
  ) async throws {
    let client = client(namespace, context)
    let containers: [String]
    if let container {
      containers = [container]
    } else {
      containers = try await client.workload(kind, deployment).containers.map(\.name)
    }
    for name in containers {
      try await client.setEnv(kind, deployment, container: name, values: values)
    }
  }

  public func restart(
    namespace: String, kind: WorkloadKind, deployment: String, context: String?
  ) async throws -> TemplateReferences? {
    try await client(namespace, context).rolloutRestart(kind, deployment)
  }

  public func waitForRollout(
    namespace: String, kind: WorkloadKind, deployment: String, timeout: Duration,
    context: String?, progress: @escaping @Sendable (String) -> Void
  ) async throws {
    try await client(namespace, context).rolloutStatus(
      kind, deployment, timeout: timeout, progress: progress)
  }

  public func can(_ verb: String, _ resource: String, namespace: String, context: String?)
    async throws -> Bool
  {
    try await client(namespace, context).canI(verb, resource)
  }

  public func templateReferences(
    namespace: String, kind: WorkloadKind, deployment: String, context: String?
  ) async throws -> TemplateReferences? {
    try await client(namespace, context).templateReferences(kind, deployment)
  }

  public func secretOwner(namespace: String, name: String, context: String?) async throws
    -> SecretOwner?
  {
    try await client(namespace, context).secretOwner(name)
  }

  public func requestSync(
    _ owner: SecretOwner, namespace: String, context: String?, stamp: String
  ) async throws -> Bool {
    try await client(namespace, context).requestSync(owner, stamp: stamp)
  }

  public func keysDiffering(
    namespace: String, secret: String, values: [String: SecretBytes], context: String?,
    digest: @escaping @Sendable (UnsafeRawBufferPointer) -> [UInt8]
  ) async throws -> [String] {
    try await client(namespace, context).keysDiffering(in: secret, from: values, digest: digest)
  }

  public func exists(kind: String, name: String, namespace: String, context: String?)
    async throws -> Bool
  {
    try await client(namespace, context).exists(kind, name)
  }
}
