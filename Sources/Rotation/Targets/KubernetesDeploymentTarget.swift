import Kubernetes
import LockstepCore

/// `targets.kubernetes`: a Deployment that receives some keys, through a Secret it reads
/// (`mode: secret`) or its containers' env (`mode: env`). Deploy writes the values (on
/// kubectl's stdin only), restarts the rollout, waits for it, and proves the restarted pod
/// template reads what was written.
public struct KubernetesDeploymentTarget: RotationTarget, Equatable {
  public enum Mode: String, Sendable, Equatable {
    case secret, env
  }
  public var deployment: String
  public var namespace: String
  public var context: String?
  public var mode: Mode
  /// The Secret updated in `secret` mode.
  public var secretName: String?
  /// The container whose env is patched in `env` mode (all containers when nil).
  public var container: String?
  /// The keys this deployment receives.
  public var keys: [String]
  public var rolloutTimeout: Duration

  static let system = "Kubernetes"

  // MARK: policy

  public static let section = "kubernetes"

  public static func parse(_ node: PolicyNode) throws(PolicyError) -> KubernetesDeploymentTarget {
    let fields = try node.fields(allowed: [
      "deployment", "namespace", "context", "mode", "secret", "container", "keys",
      "rollout_timeout",
    ])
    let modeNode = try fields.required("mode")
    guard let mode = Mode(rawValue: try modeNode.string()) else {
      throw modeNode.fail("expected secret or env")
    }
    let secretName = try fields["secret"]?.kubernetesName(.secret)
    if mode == .secret && secretName == nil { throw node.fail("mode secret needs a secret name") }
    var keys: [String] = []
    for entry in try fields.required("keys").sequence() {
      keys.append(try RotationPolicy.keyName(entry))
    }
    return KubernetesDeploymentTarget(
      deployment: try fields.required("deployment").kubernetesName(.deployment),
      namespace: try fields["namespace"]?.kubernetesName(.namespace) ?? "default",
      context: try fields["context"]?.kubernetesName(.context), mode: mode, secretName: secretName,
      container: try fields["container"]?.kubernetesName(.container), keys: keys,
      rolloutTimeout: try fields["rollout_timeout"]?.duration() ?? .seconds(300))
  }

  public var label: String { "deployment \(namespace)/\(deployment)" }
  public var id: String { "\(namespace)/\(deployment)" }
  /// `context/namespace` or `namespace`, as messages name the place.
  var scope: String { context.map { "\($0)/\(namespace)" } ?? namespace }

  public func validate(in policy: RotationPolicy, file: String) throws(PolicyError) {
    let changed = Set(policy.changedKeys)
    let manual = Set(policy.manual.map(\.key))
    for key in keys where !changed.contains(key) && !manual.contains(key) {
      throw PolicyError(
        file, nil,
        "targets.kubernetes \(deployment): key \(key) is neither rotated, derived nor a manual follow-up"
      )
    }
  }

  // MARK: preflight

  /// The rights deploy uses where this deployment lives.
  var rights: [PreflightRequirement] {
    ["deployments", "secrets"].map { resource in
      PreflightRequirement(
        system: Self.system, name: "kubectl can-i patch \(resource) (\(scope))",
        need: .kubectlCanI(
          verb: "patch", resource: resource, namespace: namespace, context: context))
    }
  }

  public func requirements(in policy: RotationPolicy) -> [PreflightRequirement] {
    rights + [
      PreflightRequirement(
        system: Self.system, name: label,
        need: .described(
          mode == .secret
            ? "\(label) exists and reads Secret \(secretName ?? deployment)"
            : "\(label) exists with container \(container ?? "(any)")"))
    ]
  }

  public func preflight(_ context: PreflightContext) async -> [PreflightCheck] {
    guard let deployments = context.services.deployments else {
      return [
        .fail(
          Self.system, "kubectl", "the policy has Kubernetes targets but kubectl is not available")
      ]
    }
    async let rights = rightsChecks(deployments)
    async let reference = referenceCheck(deployments)
    return await rights + [reference]
  }

  /// May kubectl patch deployments and secrets in this target's namespace? One check per
  /// `kubectlCanI` requirement, named as it is.
  func rightsChecks(_ deployments: any DeploymentTarget) async -> [PreflightCheck] {
    var checks: [PreflightCheck] = []
    for requirement in rights {
      guard case .kubectlCanI(let verb, let resource, _, _) = requirement.need else { continue }
      do {
        checks.append(
          try await deployments.can(verb, resource, namespace: namespace, context: context)
            ? .pass(Self.system, requirement.name, "yes")
            : .fail(
              Self.system, requirement.name,
              "kubectl may not \(verb) \(resource) in namespace \(scope), which the rotation's deploy step needs"
            ))
      } catch {
        checks.append(.fail(Self.system, requirement.name, "Kubernetes: \(error)"))
      }
    }
    return checks
  }

  /// The deployment exists and reads what the rotation writes: the Secret (which must
  /// exist) in mode `secret`, the named container in mode `env`.
  public func referenceCheck(_ deployments: any DeploymentTarget) async -> PreflightCheck {
    let system = Self.system
    do {
      guard
        let references = try await deployments.templateReferences(
          namespace: namespace, deployment: deployment, context: context)
      else {
        // Say which is missing: the namespace (the deployment read cannot tell), or the
        // deployment in it.
        let namespaceExists = try? await deployments.exists(
          kind: "namespace", name: namespace, namespace: namespace, context: context)
        if namespaceExists == false {
          return .fail(system, label, "namespace \(namespace) does not exist")
        }
        return .fail(system, label, "\(label) does not exist")
      }
      switch mode {
      case .secret:
        let secret = secretName ?? deployment
        guard
          try await deployments.exists(
            kind: "secret", name: secret, namespace: namespace, context: context)
        else {
          return .fail(
            system, label,
            "Secret \(namespace)/\(secret) does not exist; \(label) reads \(Self.list(references.secrets)) (a typo in the policy's secret?)"
          )
        }
        guard references.secrets.contains(secret) else {
          return .fail(
            system, label,
            "\(label) does not read Secret \(secret) (its pods read \(Self.list(references.secrets))), so new values written there would never reach it"
          )
        }
        return .pass(system, label, "reads Secret \(secret)")
      case .env:
        if let container, !references.containers.contains(container) {
          return .fail(
            system, label,
            "\(label) has no container \(container) (it has \(Self.list(Set(references.containers))))"
          )
        }
        return .pass(system, label, "exists; env patched in \(container ?? "every container")")
      }
    } catch {
      return .fail(system, label, "Kubernetes: \(error)")
    }
  }

  static func list(_ names: Set<String>) -> String {
    names.isEmpty ? "no Secret" : names.sorted().joined(separator: ", ")
  }

  // MARK: deploy

  public func deploy(_ context: StepContext) async throws -> [TargetEvidence] {
    guard let deployments = context.services.deployments else { return [] }
    var values: [String: SecretBytes] = [:]
    for key in keys { values[key] = context.staged[key] }
    switch mode {
    case .secret:
      let name = secretName ?? deployment
      if context.firstTime("secret:\(self.context ?? "")/\(namespace)/\(name)") {
        try await deployments.updateSecret(
          namespace: namespace, name: name, values: values, context: self.context)
      }
    case .env:
      try await deployments.patchEnv(
        namespace: namespace, deployment: deployment, container: container, values: values,
        context: self.context)
    }
    let restarted = try await deployments.restart(
      namespace: namespace, deployment: deployment, context: self.context)
    try await deployments.waitForRollout(
      namespace: namespace, deployment: deployment, timeout: rolloutTimeout,
      context: self.context, progress: context.progress)
    try await requireReads(restarted, deployments)
    return [
      TargetEvidence(
        target: label,
        details: ["mode": .text(mode.rawValue), "keys": .list(keys), "rollout": "complete"])
    ]
  }

  /// After the rollout: the restarted template (the object `rollout restart` printed, the
  /// one the rollout rolled out; read again only when kubectl printed none) reads what was
  /// written (the Secret holding every key, or the env variables), else the pods run
  /// without the new values and the run must not report success.
  func requireReads(_ restarted: TemplateReferences?, _ deployments: any DeploymentTarget)
    async throws
  {
    var references = restarted
    if references == nil {
      references = try await deployments.templateReferences(
        namespace: namespace, deployment: deployment, context: context)
    }
    guard let references else {
      throw RotationError.verification("\(label) disappeared during the rollout")
    }
    guard references.annotations["kubectl.kubernetes.io/restartedAt"] != nil else {
      throw RotationError.verification("\(label) was not restarted")
    }
    switch mode {
    case .secret:
      let secret = secretName ?? deployment
      guard references.secrets.contains(secret) else {
        throw RotationError.verification(
          "\(label) restarted, but its pods do not read Secret \(secret): they run without the new values"
        )
      }
    case .env:
      let containers = container.map { [$0] } ?? references.containers
      let setting = containers.filter { name in
        keys.allSatisfy { (references.literalEnv[name] ?? []).contains($0) }
      }
      guard container == nil ? !setting.isEmpty : setting.count == 1 else {
        throw RotationError.verification(
          "\(label) restarted, but no container of it sets every rotated key")
      }
    }
  }

  // MARK: plan

  public func plan(_ context: PlanContext) -> [PlanLine] {
    let how =
      mode == .secret
      ? "update Secret \(secretName ?? deployment)"
      : "patch env of \(container ?? "every container")"
    return [
      PlanLine(
        .deploy,
        "\(namespace)/\(deployment): \(how) (\(keys.joined(separator: ", "))), rollout restart, wait ≤ \(rolloutTimeout)"
      )
    ]
  }
}

extension RotationPolicy {
  /// The Kubernetes deployment targets, in policy order.
  public var kubernetes: [KubernetesDeploymentTarget] {
    targets(KubernetesDeploymentTarget.self)
  }
  public typealias KubernetesTarget = KubernetesDeploymentTarget
}

// MARK: port

/// What the Kubernetes target needs of kubectl. `Adapters/KubectlDeployments.swift`
/// implements it; secret material reaches kubectl on stdin only.
public protocol DeploymentTarget: Sendable {
  func updateSecret(
    namespace: String, name: String, values: [String: SecretBytes], context: String?)
    async throws
  func patchEnv(
    namespace: String, deployment: String, container: String?, values: [String: SecretBytes],
    context: String?) async throws
  /// Restarts the rollout; returns what the restarted pod template reads, when known.
  func restart(namespace: String, deployment: String, context: String?) async throws
    -> TemplateReferences?
  func waitForRollout(
    namespace: String, deployment: String, timeout: Duration, context: String?,
    progress: @escaping @Sendable (String) -> Void) async throws
  /// Preflight: `kubectl auth can-i VERB RESOURCE` there.
  func can(_ verb: String, _ resource: String, namespace: String, context: String?) async throws
    -> Bool
  /// What the deployment's pod template reads; nil when the deployment does not exist.
  func templateReferences(namespace: String, deployment: String, context: String?) async throws
    -> TemplateReferences?
  /// Whether a namespaced object (`secret`) or a namespace (`namespace`) exists.
  func exists(kind: String, name: String, namespace: String, context: String?) async throws
    -> Bool
}
