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
  ) throws {
    let client = client(namespace, context)
    try runBlocking { try await client.applySecret(name, data: values) }
  }

  public func patchEnv(
    namespace: String, kind: WorkloadKind, deployment: String, container: String?,
    values: [String: SecretBytes], context: String?
  ) throws {
    let client = client(namespace, context)
    try runBlocking {
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
  }

  public func restart(
    namespace: String, kind: WorkloadKind, deployment: String, context: String?
  ) throws -> TemplateReferences? {
    let client = client(namespace, context)
    return try runBlocking { try await client.rolloutRestart(kind, deployment) }
  }

  public func waitForRollout(
    namespace: String, kind: WorkloadKind, deployment: String, timeout: Duration,
    context: String?, progress: @escaping @Sendable (String) -> Void
  ) throws {
    let client = client(namespace, context)
    try runBlocking {
      try await client.rolloutStatus(kind, deployment, timeout: timeout, progress: progress)
    }
  }

  public func canDeploy(namespace: String, context: String?, kinds: [WorkloadKind]) throws
    -> Bool
  {
    let client = client(namespace, context)
    return try runBlocking {
      for kind in kinds where !(try await client.canI("patch", kind.resource + "s.apps")) {
        return false
      }
      return true
    }
  }

  public func canI(_ verb: String, _ resource: String, namespace: String, context: String?)
    throws -> Bool
  {
    let client = client(namespace, context)
    return try runBlocking { try await client.canI(verb, resource) }
  }

  public func templateReferences(
    namespace: String, kind: WorkloadKind, deployment: String, context: String?
  ) throws -> TemplateReferences? {
    let client = client(namespace, context)
    return try runBlocking { try await client.templateReferences(kind, deployment) }
  }

  public func secretOwner(namespace: String, name: String, context: String?) throws
    -> SecretOwner?
  {
    let client = client(namespace, context)
    return try runBlocking { try await client.secretOwner(name) }
  }

  public func requestSync(
    _ owner: SecretOwner, namespace: String, context: String?, stamp: String
  ) throws -> Bool {
    let client = client(namespace, context)
    return try runBlocking { try await client.requestSync(owner, stamp: stamp) }
  }

  public func keysDiffering(
    namespace: String, secret: String, values: [String: SecretBytes], context: String?,
    digest: @escaping @Sendable (UnsafeRawBufferPointer) -> [UInt8]
  ) throws -> [String] {
    let client = client(namespace, context)
    return try runBlocking {
      try await client.keysDiffering(in: secret, from: values, digest: digest)
    }
  }

  public func exists(kind: String, name: String, namespace: String, context: String?) throws
    -> Bool
  {
    let client = client(namespace, context)
    return try runBlocking { try await client.exists(kind, name) }
  }
}
