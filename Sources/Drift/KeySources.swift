import LockstepCore

/// Key names of a Vault secret. The Vault client conforms in `VaultKeySource`; values are
/// dropped as soon as they are read.
public protocol SecretKeySource: Sendable {
  func keyNames(_ path: String) async throws -> [String]
}

/// Env names of a deployment's containers, with `envFrom` Secrets and ConfigMaps expanded
/// to their keys. The kubectl runner conforms in `KubectlDeploymentEnvSource`.
public protocol DeploymentEnvSource: Sendable {
  func environmentNames(namespace: String, deployment: String, container: String?) async throws
    -> [String]
}

/// kubectl's JSON answer for a namespace's ExternalSecret objects (or one of them). Only
/// names and store references are read from it; it holds no secret value.
public protocol ExternalSecretObjectSource: Sendable {
  func externalSecretObjects(namespace: String, name: String?) async throws -> [UInt8]
}

/// The outside systems a drift check may reach; either may be absent, and a source that
/// needs a missing one fails with a sentence saying so.
public struct DriftConnections: Sendable {
  public var vault: (any SecretKeySource)?
  public var kubernetes: (any DeploymentEnvSource)?
  /// For `externalsecret:k8s:…`; set after `init`.
  public var externalSecrets: (any ExternalSecretObjectSource)? = nil
  /// Names of the process environment; injectable so tests need not mutate their own.
  public var environmentNames: @Sendable () -> [String]

  public init(
    vault: (any SecretKeySource)? = nil, kubernetes: (any DeploymentEnvSource)? = nil,
    environmentNames: @escaping @Sendable () -> [String] = ProcessEnvironment.names
  ) {
    self.vault = vault
    self.kubernetes = kubernetes
    self.environmentNames = environmentNames
  }
}

/// Reads variable names from `environ` without turning any value into a Swift string.
public enum ProcessEnvironment {
  @Sendable public static func names() -> [String] {
    var names: [String] = []
    var cursor = environ
    while let entry = cursor.pointee {
      var length = 0
      while entry[length] != 0 && entry[length] != 0x3D { length += 1 }
      names.append(
        String(
          decoding: UnsafeRawBufferPointer(start: entry, count: length).bindMemory(to: UInt8.self),
          as: UTF8.self))
      cursor += 1
    }
    return names
  }
}

#if canImport(Glibc)
  import Glibc
#endif
