/// What Lockstep needs to know about a deployment: its containers and where their
/// environment comes from. Literal env values are deliberately not kept: after a rotation in
/// `env` mode they are secrets, and no caller needs them (drift compares names).
public struct Deployment: Sendable, Equatable {
  public var name: String
  public var namespace: String
  public var generation: Int
  public var resourceVersion: String
  public var replicas: Int
  public var containers: [Container]

  public init(
    name: String, namespace: String, generation: Int, resourceVersion: String, replicas: Int,
    containers: [Container]
  ) {
    self.name = name
    self.namespace = namespace
    self.generation = generation
    self.resourceVersion = resourceVersion
    self.replicas = replicas
    self.containers = containers
  }

  public func container(named name: String) -> Container? {
    containers.first { $0.name == name }
  }
}

public struct Container: Sendable, Equatable {
  public var name: String
  public var image: String?
  public var env: [EnvVar]
  public var envFrom: [EnvFromSource]

  public init(name: String, image: String?, env: [EnvVar], envFrom: [EnvFromSource]) {
    self.name = name
    self.image = image
    self.env = env
    self.envFrom = envFrom
  }
}

public struct EnvVar: Sendable, Equatable {
  public enum Source: Sendable, Equatable {
    /// `value:` in the spec (the value itself is not read into Lockstep).
    case literal
    case secretKey(secret: String, key: String)
    case configMapKey(configMap: String, key: String)
    case field(path: String)
    case resourceField(resource: String)
    case other
  }

  public var name: String
  public var source: Source

  public init(name: String, source: Source) {
    self.name = name
    self.source = source
  }
}

/// An `envFrom` entry: every key of a Secret or ConfigMap becomes a variable.
public struct EnvFromSource: Sendable, Equatable {
  public enum Kind: String, Sendable {
    case secret = "Secret"
    case configMap = "ConfigMap"
  }

  public var kind: Kind
  public var name: String
  public var prefix: String
  public var optional: Bool

  public init(kind: Kind, name: String, prefix: String = "", optional: Bool = false) {
    self.kind = kind
    self.name = name
    self.prefix = prefix
    self.optional = optional
  }
}

/// One variable a container will see, after `envFrom` expansion, and where it comes from.
public struct EnvKey: Sendable, Equatable {
  public enum Origin: Sendable, Equatable {
    case env(EnvVar.Source)
    case envFrom(EnvFromSource.Kind, name: String)
  }

  public var name: String
  public var origin: Origin

  public init(name: String, origin: Origin) {
    self.name = name
    self.origin = origin
  }
}

/// The variables of one container, in Kubernetes' order: `envFrom` first, then `env`, a
/// later definition replacing an earlier one of the same name.
public struct ContainerEnvironment: Sendable, Equatable {
  public var container: String
  public var keys: [EnvKey]

  public init(container: String, keys: [EnvKey]) {
    self.container = container
    self.keys = keys
  }

  public var names: [String] { keys.map(\.name) }
}

/// The client and server versions kubectl reports.
public struct KubernetesVersion: Sendable, Equatable {
  public var client: String
  public var server: String?

  public init(client: String, server: String?) {
    self.client = client
    self.server = server
  }
}
