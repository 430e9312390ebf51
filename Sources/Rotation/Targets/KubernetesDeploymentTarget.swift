import Crypto
import Foundation
import Kubernetes
import LockstepCore

/// `targets.kubernetes`: a Deployment, StatefulSet or DaemonSet that receives some keys,
/// through a Secret it reads (`mode: secret`) or its containers' env (`mode: env`). Deploy
/// writes the values (on kubectl's stdin only) or, when External Secrets Operator or Vault
/// Secrets Operator owns the Secret, has the operator write them and waits for it; then
/// restarts the rollout, waits for it, and proves the restarted pod template reads what was
/// written (docs/kubernetes.md).
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
  /// The workload kind (`kind:` or `workload: KIND/NAME`); Deployment by default.
  public var kind: WorkloadKind = .deployment

  static let system = "Kubernetes"

  // MARK: policy

  public static let section = "kubernetes"

  public static func parse(_ node: PolicyNode) throws(PolicyError) -> KubernetesDeploymentTarget {
    let fields = try node.fields(allowed: [
      "deployment", "workload", "kind", "namespace", "context", "mode", "secret", "container",
      "keys", "rollout_timeout",
    ])
    let (kind, name) = try workload(node, fields)
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
      deployment: name,
      namespace: try fields["namespace"]?.kubernetesName(.namespace) ?? "default",
      context: try fields["context"]?.kubernetesName(.context), mode: mode, secretName: secretName,
      container: try fields["container"]?.kubernetesName(.container), keys: keys,
      rolloutTimeout: try fields["rollout_timeout"]?.duration() ?? .seconds(300), kind: kind)
  }

  /// The workload: `deployment: NAME` (optionally with `kind:`), or `workload: KIND/NAME`,
  /// each name checked by its kind's rule.
  static func workload(_ node: PolicyNode, _ fields: PolicyNode.Fields) throws(PolicyError)
    -> (WorkloadKind, String)
  {
    var kind = WorkloadKind.deployment
    if let kindNode = fields["kind"] {
      guard let parsed = WorkloadKind(rawValue: try kindNode.string().lowercased()) else {
        throw kindNode.fail("expected deployment, statefulset or daemonset")
      }
      kind = parsed
    }
    switch (fields["deployment"], fields["workload"]) {
    case (let named?, nil):
      let name = try named.string()
      if let reason = kind.nameProblem(name) { throw named.fail(reason) }
      return (kind, name)
    case (nil, let named?):
      let text = try named.string()
      let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 2, let parsed = WorkloadKind(rawValue: parts[0].lowercased()) else {
        throw named.fail("expected KIND/NAME with KIND deployment, statefulset or daemonset")
      }
      if fields["kind"] != nil && parsed != kind {
        throw named.fail("names kind \(parsed.rawValue) but kind: says \(kind.rawValue)")
      }
      if let reason = parsed.nameProblem(parts[1]) { throw named.fail(reason) }
      return (parsed, parts[1])
    case (_?, _?):
      throw node.fail("give deployment: or workload:, not both")
    case (nil, nil):
      throw node.fail("a Kubernetes target needs deployment: NAME or workload: KIND/NAME")
    }
  }

  /// `statefulset aura/worker`: how messages and the evidence name the workload.
  public var label: String { "\(kind.rawValue) \(namespace)/\(deployment)" }
  /// The journal's `deploy:` id: `NS/NAME` for a Deployment (as before), `NS/KIND.NAME` for
  /// the other kinds.
  public var id: String {
    "\(namespace)/" + (kind == .deployment ? deployment : "\(kind.rawValue).\(deployment)")
  }
  /// The journal marker of this target's finished deploy.
  public var marker: String { "deploy:\(id)" }
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

  /// The rights deploy uses where this workload lives. Secret rights are checked with the
  /// reference check: a Secret an operator owns is not written, its owner is patched.
  var rights: [PreflightRequirement] {
    ["\(kind.resource)s.apps"].map { resource in
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
            ? "\(label) exists and reads Secret \(secretName ?? deployment); kubectl may patch it, or the ExternalSecret that owns it"
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
    async let rights = rightsChecks(deployments, skipping: context.checkedElsewhere)
    async let reference = referenceCheck(deployments)
    let (check, secretRightChecked) = await reference
    let checks = await rights + [check]
    guard mode == .secret, !secretRightChecked else { return checks }
    // The workload or its Secret is missing, so the Secret's write right was not reached:
    // check the plain patch right on its own, so that one doctor run names every missing
    // right (an operator-owned Secret needs another right, reported once the Secret exists).
    return checks + [await secretPatchRight(deployments)]
  }

  /// The sentence for a Secret kubectl may not patch (it begins in lower case, and doctor
  /// capitalises a problem's first letter: "Kubectl" would read oddly).
  func patchRefused(_ secret: String) -> String {
    "the rotation's deploy step writes Secret \(namespace)/\(secret), and kubectl may not patch it"
  }

  /// `kubectl auth can-i patch secrets` where this target's Secret lives, as its own check.
  func secretPatchRight(_ deployments: any DeploymentTarget) async -> PreflightCheck {
    let name = "kubectl can-i patch secrets (\(scope))"
    do {
      return try await deployments.can("patch", "secrets", namespace: namespace, context: context)
        ? .pass(Self.system, name, "yes")
        : .fail(Self.system, name, patchRefused(secretName ?? deployment))
    } catch {
      return .fail(Self.system, name, "Kubernetes: \(error)")
    }
  }

  /// May kubectl patch deployments and secrets in this target's namespace? One check per
  /// `kubectlCanI` requirement, named as it is.
  func rightsChecks(_ deployments: any DeploymentTarget, skipping: Set<String>) async
    -> [PreflightCheck]
  {
    var checks: [PreflightCheck] = []
    for requirement in rights where !skipping.contains(requirement.name) {
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
  /// `secretRightChecked` is false when the check stopped before the Secret's write right
  /// (the workload or the Secret is missing) in a namespace that exists.
  public func referenceCheck(_ deployments: any DeploymentTarget) async -> (
    check: PreflightCheck, secretRightChecked: Bool
  ) {
    let system = Self.system
    do {
      guard
        let references = try await deployments.templateReferences(
          namespace: namespace, kind: kind, deployment: deployment, context: context)
      else {
        // Say which is missing: the namespace (the deployment read cannot tell), or the
        // deployment in it.
        let namespaceExists = try? await deployments.exists(
          kind: "namespace", name: namespace, namespace: namespace, context: context)
        if namespaceExists == false {
          return (.fail(system, label, "namespace \(namespace) does not exist"), true)
        }
        return (.fail(system, label, "\(label) does not exist"), false)
      }
      if let problem = references.rolloutProblem(kind) {
        return (
          .fail(
            system, label,
            "\(label) cannot be restarted so that every pod reads the new values: \(problem)"),
          false
        )
      }
      switch mode {
      case .secret:
        let secret = secretName ?? deployment
        guard
          try await deployments.exists(
            kind: "secret", name: secret, namespace: namespace, context: context)
        else {
          return (
            .fail(
              system, label,
              "Secret \(namespace)/\(secret) does not exist; \(label) reads \(Self.list(references.secrets)) (a typo in the policy's secret?)"
            ), false
          )
        }
        guard references.secrets.contains(secret) else {
          return (
            .fail(
              system, label,
              "\(label) does not read Secret \(secret) (its pods read \(Self.list(references.secrets))), so new values written there would never reach it"
            ), true
          )
        }
        return (try await secretWriteCheck(secret, deployments), true)
      case .env:
        if let container, !references.containers.contains(container) {
          return (
            .fail(
              system, label,
              "\(label) has no container \(container) (it has \(Self.list(Set(references.containers))))"
            ), true
          )
        }
        return (
          .pass(system, label, "exists; env patched in \(container ?? "every container")"), true
        )
      }
    } catch {
      return (.fail(system, label, "Kubernetes: \(error)"), true)
    }
  }

  /// How the Secret will get the new values, and whether kubectl may do that: patch the
  /// Secret, or (when External Secrets Operator or Vault Secrets Operator owns it) ask the
  /// owner to sync and wait for it.
  func secretWriteCheck(_ secret: String, _ deployments: any DeploymentTarget) async throws
    -> PreflightCheck
  {
    let system = Self.system
    guard
      let owner = try await deployments.secretOwner(
        namespace: namespace, name: secret, context: context)
    else {
      guard try await deployments.can("patch", "secrets", namespace: namespace, context: context)
      else {
        return .fail(system, label, patchRefused(secret))
      }
      return .pass(system, label, "reads Secret \(secret)")
    }
    switch owner.controller {
    case .externalSecrets:
      guard
        try await deployments.can("patch", owner.resource, namespace: namespace, context: context)
      else {
        return .fail(
          system, label,
          "Secret \(secret) is written by \(owner), and kubectl may not patch \(owner.resource) to ask it to sync"
        )
      }
      return .pass(
        system, label,
        "reads Secret \(secret), written by \(owner): Lockstep asks it to sync (force-sync) instead of writing the Secret"
      )
    case .vaultSecretsOperator:
      return .pass(
        system, label,
        "reads Secret \(secret), written by \(owner): Lockstep waits for its next sync (VSO has no on-demand sync) instead of writing the Secret"
      )
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
    var records: [TargetEvidence] = []
    var writtenBy: String?
    switch mode {
    case .secret:
      let name = secretName ?? deployment
      if context.firstTime("secret:\(self.context ?? "")/\(namespace)/\(name)") {
        if let owner = try await deployments.secretOwner(
          namespace: namespace, name: name, context: self.context)
        {
          records.append(
            try await syncThroughOwner(owner, secret: name, values, deployments, context))
          writtenBy = owner.evidenceLabel
        } else {
          try await deployments.updateSecret(
            namespace: namespace, name: name, values: values, context: self.context)
          writtenBy = "patched"
        }
      }
    case .env:
      try await deployments.patchEnv(
        namespace: namespace, kind: kind, deployment: deployment, container: container,
        values: values, context: self.context)
    }
    let restarted = try await deployments.restart(
      namespace: namespace, kind: kind, deployment: deployment, context: self.context)
    try await deployments.waitForRollout(
      namespace: namespace, kind: kind, deployment: deployment, timeout: rolloutTimeout,
      context: self.context, progress: context.progress)
    try await requireReads(restarted, deployments)
    var details: [String: EvidenceValue] = [
      "mode": .text(mode.rawValue), "keys": .list(keys), "rollout": "complete",
      "kind": .text(kind.rawValue),
    ]
    if let writtenBy { details["secret_written_by"] = .text(writtenBy) }
    return records + [TargetEvidence(target: label, details: details)]
  }

  /// The Secret belongs to an operator: ask it to sync from Vault (where promote already put
  /// the new values) and wait until the Secret holds them, compared by HMAC-SHA-256 under a
  /// key made for this wait (never by value). Writing the Secret ourselves would be undone
  /// by the operator's next sync. The wait is bounded by the target's rollout timeout; a
  /// kill during it leaves the target unjournalled, and resume asks and waits again.
  func syncThroughOwner(
    _ owner: SecretOwner, secret: String, _ values: [String: SecretBytes],
    _ deployments: any DeploymentTarget, _ context: StepContext
  ) async throws -> TargetEvidence {
    let key = SecretBytes.random(count: 32)
    let digest: @Sendable (UnsafeRawBufferPointer) -> [UInt8] = {
      HMACSHA256.authenticate($0, key: key)
    }
    let stamp = String(Int(Date().timeIntervalSince1970))
    let asked = try await deployments.requestSync(
      owner, namespace: namespace, context: self.context, stamp: stamp)
    context.progress(
      asked
        ? "asked \(owner) to sync Secret \(secret); waiting for the new values"
        : "waiting for \(owner) to sync Secret \(secret)")
    let clock = ContinuousClock()
    let deadline = clock.now + rolloutTimeout
    while true {
      let differing = try await deployments.keysDiffering(
        namespace: namespace, secret: secret, values: values, context: self.context,
        digest: digest)
      if differing.isEmpty { break }
      if clock.now >= deadline {
        throw KubernetesError.controllerDidNotSync(
          owner: owner, secret: secret, seconds: Int(rolloutTimeout.components.seconds))
      }
      try await Task.sleep(for: .milliseconds(250))
    }
    return TargetEvidence(
      target: "secret \(namespace)/\(secret)", outcome: "synced",
      details: ["written_by": .text(owner.evidenceLabel), "keys": .list(keys.sorted())])
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
        namespace: namespace, kind: kind, deployment: deployment, context: context)
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
      ? "update Secret \(secretName ?? deployment) (or have its operator sync it)"
      : "patch env of \(container ?? "every container")"
    return [
      PlanLine(
        .deploy,
        "\(kind == .deployment ? "" : kind.rawValue + " ")\(namespace)/\(deployment): \(how) (\(keys.joined(separator: ", "))), rollout restart, wait ≤ \(rolloutTimeout)"
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
    namespace: String, kind: WorkloadKind, deployment: String, container: String?,
    values: [String: SecretBytes], context: String?) async throws
  /// Restarts the rollout; returns what the restarted pod template reads, when known.
  func restart(namespace: String, kind: WorkloadKind, deployment: String, context: String?)
    async throws -> TemplateReferences?
  func waitForRollout(
    namespace: String, kind: WorkloadKind, deployment: String, timeout: Duration,
    context: String?, progress: @escaping @Sendable (String) -> Void) async throws
  /// Preflight: `kubectl auth can-i VERB RESOURCE` there.
  func can(_ verb: String, _ resource: String, namespace: String, context: String?) async throws
    -> Bool
  /// What the workload's pod template reads; nil when the workload does not exist.
  func templateReferences(
    namespace: String, kind: WorkloadKind, deployment: String, context: String?
  ) async throws -> TemplateReferences?
  /// Whether a namespaced object (`secret`) or a namespace (`namespace`) exists.
  func exists(kind: String, name: String, namespace: String, context: String?) async throws
    -> Bool
  /// The controller (ESO, VSO) that writes Secret `name`, or nil.
  func secretOwner(namespace: String, name: String, context: String?) async throws
    -> SecretOwner?
  /// Asks `owner` to sync now; false when its controller has no such request (VSO).
  func requestSync(_ owner: SecretOwner, namespace: String, context: String?, stamp: String)
    async throws -> Bool
  /// The keys of Secret `secret` not yet holding `values`, compared by `digest` only.
  func keysDiffering(
    namespace: String, secret: String, values: [String: SecretBytes], context: String?,
    digest: @escaping @Sendable (UnsafeRawBufferPointer) -> [UInt8]
  ) async throws -> [String]
}

extension DeploymentTarget {
  /// A Deployment's references (the pre-kind form, kept for callers such as doctor).
  public func templateReferences(namespace: String, deployment: String, context: String?)
    async throws -> TemplateReferences?
  {
    try await templateReferences(
      namespace: namespace, kind: .deployment, deployment: deployment, context: context)
  }
}
