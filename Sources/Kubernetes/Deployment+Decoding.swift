import Foundation

/// The wire form of the parts of `kubectl get deployment -o json` that Lockstep reads.
/// Unknown keys (and `value`) are skipped by the decoder.
struct DeploymentWire: Decodable {
  struct Metadata: Decodable {
    var name: String
    var namespace: String?
    var generation: Int?
    var resourceVersion: String?
  }
  struct Spec: Decodable {
    var replicas: Int?
    var template: Template
  }
  struct Template: Decodable {
    var spec: PodSpec
  }
  struct PodSpec: Decodable {
    var containers: [ContainerWire]
  }
  struct ContainerWire: Decodable {
    var name: String
    var image: String?
    var env: [EnvVarWire]?
    var envFrom: [EnvFromWire]?
  }
  struct KeyRef: Decodable {
    var name: String?
    var key: String
  }
  struct FieldRef: Decodable {
    var fieldPath: String
  }
  struct ResourceFieldRef: Decodable {
    var resource: String
  }
  struct ValueFrom: Decodable {
    var secretKeyRef: KeyRef?
    var configMapKeyRef: KeyRef?
    var fieldRef: FieldRef?
    var resourceFieldRef: ResourceFieldRef?
  }
  struct EnvVarWire: Decodable {
    var name: String
    var valueFrom: ValueFrom?
  }
  struct Ref: Decodable {
    var name: String?
    var optional: Bool?
  }
  struct EnvFromWire: Decodable {
    var prefix: String?
    var secretRef: Ref?
    var configMapRef: Ref?
  }

  var metadata: Metadata
  var spec: Spec

  func deployment(defaultNamespace: String) -> Deployment {
    Deployment(
      name: metadata.name, namespace: metadata.namespace ?? defaultNamespace,
      generation: metadata.generation ?? 0, resourceVersion: metadata.resourceVersion ?? "",
      replicas: spec.replicas ?? 1,
      containers: spec.template.spec.containers.map { wire in
        Container(
          name: wire.name, image: wire.image,
          env: (wire.env ?? []).map { EnvVar(name: $0.name, source: Self.source($0.valueFrom)) },
          envFrom: (wire.envFrom ?? []).compactMap(Self.envFrom))
      })
  }

  private static func source(_ from: ValueFrom?) -> EnvVar.Source {
    guard let from else { return .literal }
    if let ref = from.secretKeyRef { return .secretKey(secret: ref.name ?? "", key: ref.key) }
    if let ref = from.configMapKeyRef {
      return .configMapKey(configMap: ref.name ?? "", key: ref.key)
    }
    if let ref = from.fieldRef { return .field(path: ref.fieldPath) }
    if let ref = from.resourceFieldRef { return .resourceField(resource: ref.resource) }
    return .other
  }

  private static func envFrom(_ wire: EnvFromWire) -> EnvFromSource? {
    if let ref = wire.secretRef {
      return EnvFromSource(
        kind: .secret, name: ref.name ?? "", prefix: wire.prefix ?? "",
        optional: ref.optional ?? false)
    }
    if let ref = wire.configMapRef {
      return EnvFromSource(
        kind: .configMap, name: ref.name ?? "", prefix: wire.prefix ?? "",
        optional: ref.optional ?? false)
    }
    return nil
  }
}

struct VersionWire: Decodable {
  struct Info: Decodable {
    var gitVersion: String
  }
  var clientVersion: Info
  var serverVersion: Info?
}
