import LockstepCore

/// Everything that can go wrong when Lockstep drives kubectl, each as the one sentence a user
/// sees. kubectl's own words are quoted only when the request carried no secret values, so
/// an echoed object can never leak one.
public enum KubernetesError: LockstepError, Equatable {
  /// The kubectl executable is not where the configuration says (or not on PATH).
  case kubectlMissing(String)
  /// The named context is not in the kubeconfig (nil: no current context is set).
  case contextMissing(String?)
  /// The API server refused the action; `detail` is the server's reason.
  case forbidden(action: String, detail: String)
  case notFound(kind: String, name: String, namespace: String)
  /// A write carried a resourceVersion that is no longer current.
  case conflict(kind: String, name: String)
  case rolloutTimedOut(deployment: String, seconds: Int, kind: String = "deployment")
  /// The controller that owns a Secret did not write the new values in time.
  case controllerDidNotSync(owner: SecretOwner, secret: String, seconds: Int)
  /// A Secret marked as a controller's whose owning object cannot be found.
  case unmanagedOwner(secret: String, detail: String)
  case progressDeadlineExceeded(deployment: String)
  /// No API server answered; `detail` is kubectl's description of the connection failure.
  case unreachable(String)
  /// A value cannot be written as a Kubernetes string (env values must be UTF-8).
  case invalidValue(key: String, reason: String)
  /// kubectl ran longer than the configured per-command timeout and was killed.
  case commandTimedOut(action: String)
  /// kubectl answered in a way Lockstep does not understand (output that is not the JSON
  /// asked for).
  case unexpectedOutput(action: String)
  /// Any other kubectl failure; `detail` is nil when kubectl's message was withheld.
  case failed(action: String, detail: String?)
  /// A name that is not valid for its kind (KubernetesName); never passed to kubectl.
  case invalidName(String)
  /// The namespace does not exist (the API refuses to create anything in it).
  case namespaceMissing(String)
  /// The API server did not accept the kubeconfig's credentials (401).
  case unauthenticated(action: String)
  /// kubectl refuses to restart a paused deployment.
  case paused(deployment: String)
  /// The API server does not serve an API a request needs; `request` is the kubectl
  /// command line that failed (names only, no values).
  case apiMissing(request: String, api: String)

  public var description: String {
    switch self {
    case .kubectlMissing(let path):
      return "kubectl was not found (\(path)); install it or point Lockstep at it"
    case .contextMissing(let name?):
      return "the kubectl context \"\(name)\" does not exist in the kubeconfig"
    case .contextMissing(nil):
      return "the kubeconfig has no current context; pass a context or set one"
    case .forbidden(let action, let detail):
      return "the Kubernetes API refused to \(action): \(detail)"
    case .notFound(let kind, let name, let namespace):
      return "\(kind) \"\(name)\" was not found in namespace \"\(namespace)\""
    case .conflict(let kind, let name):
      return
        "\(kind) \"\(name)\" was changed by someone else since it was read; read it again and retry"
    case .rolloutTimedOut(let deployment, let seconds, let kind):
      return "the rollout of \(kind) \"\(deployment)\" did not finish within \(seconds) s"
    case .controllerDidNotSync(let owner, let secret, let seconds):
      return
        "\(owner.description) did not write the new values to Secret \"\(secret)\" within \(seconds) s"
        + (owner.controller == .vaultSecretsOperator
          ? " (VSO syncs on its own schedule: spec.refreshAfter, or instantly with syncConfig.instantUpdates)"
          : "; check the operator's logs and the ExternalSecret's status")
    case .progressDeadlineExceeded(let deployment):
      return
        "the rollout of deployment \"\(deployment)\" failed: it exceeded its progress deadline (ProgressDeadlineExceeded)"
    case .unreachable(let detail):
      return "the Kubernetes API server could not be reached: \(detail)"
    case .invalidValue(let key, let reason):
      return "the value of \(key) cannot be written to Kubernetes: \(reason)"
    case .commandTimedOut(let action):
      return "kubectl did not finish in time to \(action) and was stopped"
    case .unexpectedOutput(let action):
      return "kubectl gave output Lockstep could not read when asked to \(action)"
    case .failed(let action, let detail?):
      return "kubectl could not \(action): \(detail)"
    case .failed(let action, nil):
      return
        "kubectl could not \(action) (its message is withheld because the request carried secret values)"
    case .invalidName(let reason):
      return reason
    case .namespaceMissing(let namespace):
      return "the Kubernetes namespace \"\(namespace)\" does not exist"
    case .unauthenticated(let action):
      return
        "the Kubernetes API did not accept the kubeconfig's credentials (401 Unauthorized) when asked to \(action)"
    case .paused(let deployment):
      return
        "deployment \"\(deployment)\" is paused; resume it (kubectl rollout resume) before restarting it"
    case .apiMissing(let request, let api):
      return "\(request): the server has no \(api) API"
    case .unmanagedOwner(let secret, let detail):
      return
        "Secret \"\(secret)\" is written by a controller Lockstep cannot ask to sync: \(detail)"
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .kubectlMissing, .unreachable: .unavailable
    case .contextMissing, .invalidName: .usage
    case .forbidden, .unauthenticated: .noPermission
    case .notFound, .invalidValue, .namespaceMissing, .unmanagedOwner: .dataError
    case .apiMissing: .unavailable
    case .paused: .failure
    case .conflict, .rolloutTimedOut, .commandTimedOut, .controllerDidNotSync: .temporaryFailure
    case .progressDeadlineExceeded, .unexpectedOutput, .failed: .failure
    }
  }
}
