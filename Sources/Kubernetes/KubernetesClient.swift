import LockstepCore

/// What the workflows (rotation, drift, doctor) need from Kubernetes, so that a workflow test
/// can run against the real kubectl and the stand-in, or a recorded fake where none can run.
public protocol KubernetesClient: Sendable {
  func deployment(_ name: String) async throws(KubernetesError) -> Deployment
  func environment(of deployment: String, container: String?) async throws(KubernetesError)
    -> [ContainerEnvironment]
  func applySecret(
    _ name: String, data: [String: SecretBytes], replaceAllKeys: Bool
  ) async throws(KubernetesError)
  func setEnv(
    deployment: String, container: String, values: [String: SecretBytes],
    resourceVersion: String?
  ) async throws(KubernetesError)
  func setEnvFromSecret(
    deployment: String, container: String, references: [String: SecretKeyReference]
  ) async throws(KubernetesError)
  /// Returns what the restarted pod template reads, when kubectl printed it.
  @discardableResult
  func rolloutRestart(_ deployment: String) async throws(KubernetesError) -> TemplateReferences?
  func rolloutStatus(
    _ deployment: String, timeout: Duration, progress: @escaping @Sendable (String) -> Void
  ) async throws(KubernetesError)
  func canI(_ verb: String, _ resource: String) async throws(KubernetesError) -> Bool
}

/// `valueFrom.secretKeyRef`: the variable takes the value of `key` in Secret `secret`.
public struct SecretKeyReference: Sendable, Equatable {
  public var secret: String
  public var key: String

  public init(secret: String, key: String) {
    self.secret = secret
    self.key = key
  }
}
