import Foundation
import LockstepCore

/// What a deployment's pod template reads: the rotation proves before any change that each
/// Secret it writes is one the workload actually reads, and proves it again after the
/// rollout. Only names are read, never values.
public struct TemplateReferences: Sendable, Equatable {
  public var containers: [String]
  /// Secrets named by `envFrom[].secretRef`, `env[].valueFrom.secretKeyRef`, a `secret`
  /// volume or a projected volume's `secret` source, in any container (init ones included).
  public var secrets: Set<String>
  /// Per container, the variables set with a literal `value:` (mode `env`).
  public var literalEnv: [String: Set<String>]
  public var annotations: [String: String]
  /// The workload's update strategy (`strategy.type` of a Deployment, `updateStrategy.type`
  /// of a StatefulSet or DaemonSet): `RollingUpdate`, `Recreate` or `OnDelete`.
  public var updateStrategy: String?
  /// A StatefulSet's `updateStrategy.rollingUpdate.partition` (pods below it keep the old
  /// template after a restart).
  public var partition: Int?
  /// A Deployment's `spec.paused`.
  public var paused: Bool

  public init(
    containers: [String], secrets: Set<String>, literalEnv: [String: Set<String>],
    annotations: [String: String], updateStrategy: String? = nil, partition: Int? = nil,
    paused: Bool = false
  ) {
    self.containers = containers
    self.secrets = secrets
    self.literalEnv = literalEnv
    self.annotations = annotations
    self.updateStrategy = updateStrategy
    self.partition = partition
    self.paused = paused
  }

  /// Why `kubectl rollout restart` + `rollout status` cannot prove that every pod of this
  /// workload runs the restarted template, or nil when they can: an `OnDelete` strategy
  /// replaces no pod until someone deletes it (and kubectl refuses its status), a
  /// StatefulSet partition leaves the pods below it on the old template, and a paused
  /// Deployment rolls nothing out.
  public func rolloutProblem(_ kind: WorkloadKind) -> String? {
    if updateStrategy == "OnDelete" {
      return "its update strategy is OnDelete: a restart replaces no pod until each is deleted"
    }
    if kind == .statefulset, let partition, partition > 0 {
      return "its rolling update is partitioned at \(partition): pods with an ordinal below "
        + "\(partition) would keep the old values"
    }
    if kind == .deployment && paused {
      return "it is paused: resume it (kubectl rollout resume) first"
    }
    return nil
  }
}

extension KubectlClient {
  /// The references of `deployment`'s pod template, or nil when the deployment is missing.
  public func templateReferences(_ deployment: String) async throws(KubernetesError)
    -> TemplateReferences?
  {
    try await templateReferences(.deployment, deployment)
  }

  /// The references of a workload's pod template, or nil when the workload is missing.
  public func templateReferences(_ kind: WorkloadKind, _ deployment: String)
    async throws(KubernetesError) -> TemplateReferences?
  {
    let action = "read \(kind.label(deployment))"
    _ = try kind.checked(deployment)
    let result: ChildProcess.Result
    do {
      result = try await kubectl(
        ["get", kind.resource, "-o", "json", "--", deployment], action: action,
        target: (kind: kind.rawValue, name: deployment))
    } catch {
      if case .notFound = error { return nil }
      throw error
    }
    guard let references = TemplateReferences(deploymentJSON: result.stdout) else {
      throw .unexpectedOutput(action: action)
    }
    return references
  }

  /// Whether an object exists (`kind` as kubectl names it: `secret`, `namespace`, …).
  public func exists(_ kind: String, _ name: String) async throws(KubernetesError) -> Bool {
    do {
      try await kubectl(
        ["get", kind, "-o", "name", "--", name], action: "read \(kind) \"\(name)\"",
        target: (kind: kind, name: name))
      return true
    } catch {
      if case .notFound = error { return false }
      throw error
    }
  }
}

extension TemplateReferences {
  /// The references of a Deployment object as kubectl prints it with `-o json`; nil when
  /// the text is not such an object.
  public init?(deploymentJSON json: [UInt8]) {
    guard
      let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
      let spec = object["spec"] as? [String: Any],
      let template = spec["template"] as? [String: Any]
    else { return nil }
    let podSpec = template["spec"] as? [String: Any] ?? [:]
    let metadata = template["metadata"] as? [String: Any] ?? [:]
    var secrets = Set<String>()
    var names: [String] = []
    var literal: [String: Set<String>] = [:]
    let all =
      (podSpec["containers"] as? [[String: Any]] ?? [])
      + (podSpec["initContainers"] as? [[String: Any]] ?? [])
    for container in all {
      let name = container["name"] as? String ?? ""
      names.append(name)
      for source in container["envFrom"] as? [[String: Any]] ?? [] {
        if let ref = source["secretRef"] as? [String: Any], let secret = ref["name"] as? String {
          secrets.insert(secret)
        }
      }
      for variable in container["env"] as? [[String: Any]] ?? [] {
        if let from = variable["valueFrom"] as? [String: Any],
          let ref = from["secretKeyRef"] as? [String: Any], let secret = ref["name"] as? String
        {
          secrets.insert(secret)
        } else if variable["value"] != nil, let key = variable["name"] as? String {
          literal[name, default: []].insert(key)
        }
      }
    }
    for volume in podSpec["volumes"] as? [[String: Any]] ?? [] {
      if let secret = (volume["secret"] as? [String: Any])?["secretName"] as? String {
        secrets.insert(secret)
      }
      let sources = (volume["projected"] as? [String: Any])?["sources"] as? [[String: Any]] ?? []
      for source in sources {
        if let secret = (source["secret"] as? [String: Any])?["name"] as? String {
          secrets.insert(secret)
        }
      }
    }
    let strategy = (spec["updateStrategy"] ?? spec["strategy"]) as? [String: Any]
    let rolling = strategy?["rollingUpdate"] as? [String: Any]
    self.init(
      containers: names, secrets: secrets, literalEnv: literal,
      annotations: metadata["annotations"] as? [String: String] ?? [:],
      updateStrategy: strategy?["type"] as? String, partition: rolling?["partition"] as? Int,
      paused: spec["paused"] as? Bool ?? false)
  }
}
