import Foundation
import LockstepCore

extension KubectlClient {
  /// A deployment's containers and where their environment comes from.
  public func deployment(_ name: String) async throws(KubernetesError) -> Deployment {
    try await workload(.deployment, name)
  }

  /// A Deployment's, StatefulSet's or DaemonSet's containers (a DaemonSet counts 1 replica).
  public func workload(_ kind: WorkloadKind, _ name: String) async throws(KubernetesError)
    -> Deployment
  {
    let action = "read \(kind.label(name))"
    let result = try await kubectl(
      ["get", kind.resource, "-o=json", "--", try kind.checked(name)],
      action: action,
      target: (kind: kind.rawValue, name: name))
    guard
      let wire = try? JSONDecoder().decode(DeploymentWire.self, from: Data(result.stdout))
    else { throw .unexpectedOutput(action: action) }
    return wire.deployment(defaultNamespace: namespaceLabel)
  }

  /// The variables each container (or just `container`) will see, with `envFrom` Secrets and
  /// ConfigMaps expanded to their keys. Only key names are read: the go-template below makes
  /// kubectl print the keys of a Secret, so its values never enter Lockstep.
  public func environment(
    of deployment: String, container: String? = nil
  ) async throws(KubernetesError) -> [ContainerEnvironment] {
    let spec = try await self.deployment(deployment)
    var containers = spec.containers
    if let container {
      _ = try KubernetesName.checked(container, as: .container)
      guard let found = spec.container(named: container) else {
        throw .notFound(kind: "container", name: container, namespace: spec.namespace)
      }
      containers = [found]
    }
    var expanded: [String: [String]?] = [:]
    var environments: [ContainerEnvironment] = []
    for container in containers {
      var keys: [EnvKey] = []
      func add(_ key: EnvKey) {
        keys.removeAll { $0.name == key.name }
        keys.append(key)
      }
      for source in container.envFrom {
        let cacheKey = "\(source.kind.rawValue)/\(source.name)"
        if expanded[cacheKey] == nil {
          expanded[cacheKey] = .some(try await keysOrNil(of: source))
        }
        guard let names = expanded[cacheKey] ?? nil else {
          if source.optional { continue }
          throw .notFound(kind: source.kind.rawValue, name: source.name, namespace: spec.namespace)
        }
        for name in names {
          add(EnvKey(name: source.prefix + name, origin: .envFrom(source.kind, name: source.name)))
        }
      }
      for variable in container.env {
        add(EnvKey(name: variable.name, origin: .env(variable.source)))
      }
      environments.append(ContainerEnvironment(container: container.name, keys: keys))
    }
    return environments
  }

  /// The key names of a Secret (never its values).
  public func secretKeys(_ name: String) async throws(KubernetesError) -> [String] {
    try await keys(
      kind: "secret", name: try KubernetesName.checked(name, as: .secret), fields: ["data"])
  }

  /// The key names of a ConfigMap (`data` and `binaryData`).
  public func configMapKeys(_ name: String) async throws(KubernetesError) -> [String] {
    try await keys(
      kind: "configmap", name: try KubernetesName.checked(name, as: .configMap),
      fields: ["data", "binaryData"])
  }

  private func keysOrNil(of source: EnvFromSource) async throws(KubernetesError) -> [String]? {
    do {
      switch source.kind {
      case .secret: return try await secretKeys(source.name)
      case .configMap: return try await configMapKeys(source.name)
      }
    } catch {
      if case .notFound = error { return nil }
      throw error
    }
  }

  private func keys(
    kind: String, name: String, fields: [String]
  ) async throws(KubernetesError) -> [String] {
    let template = fields.map { "{{range $k, $v := .\($0)}}{{$k}}{{\"\\n\"}}{{end}}" }.joined()
    let result = try await kubectl(
      ["get", kind, "-o=go-template=\(template)", "--", name],
      action: "read the keys of \(kind) \"\(name)\"", target: (kind: kind, name: name))
    return result.stdoutText.split(separator: "\n").map(String.init).sorted()
  }
}
