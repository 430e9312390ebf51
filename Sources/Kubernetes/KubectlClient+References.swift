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

  public init(
    containers: [String], secrets: Set<String>, literalEnv: [String: Set<String>],
    annotations: [String: String]
  ) {
    self.containers = containers
    self.secrets = secrets
    self.literalEnv = literalEnv
    self.annotations = annotations
  }
}

extension KubectlClient {
  /// The references of `deployment`'s pod template, or nil when the deployment is missing.
  public func templateReferences(_ deployment: String) async throws(KubernetesError)
    -> TemplateReferences?
  {
    let action = "read deployment \"\(deployment)\""
    let result: ChildProcess.Result
    do {
      result = try await kubectl(
        ["get", "deployment", "-o", "json", "--", deployment], action: action,
        target: (kind: "deployment", name: deployment))
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
    self.init(
      containers: names, secrets: secrets, literalEnv: literal,
      annotations: metadata["annotations"] as? [String: String] ?? [:])
  }
}
