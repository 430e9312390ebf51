import LockstepCore

/// One KV secret as read: its data and, on KV v2, the version it is.
public struct VaultSecret: Sendable {
  /// `mount/path` as the caller names it (no `data/`).
  public let path: String
  public let data: SecretMap
  /// nil on a KV v1 mount.
  public let version: Int?
  public let createdTime: String?
  public let customMetadata: [String: String]

  public init(
    path: String, data: SecretMap, version: Int?, createdTime: String? = nil,
    customMetadata: [String: String] = [:]
  ) {
    self.path = path
    self.data = data
    self.version = version
    self.createdTime = createdTime
    self.customMetadata = customMetadata
  }
}

/// KV v2 metadata of one secret: its versions and custom metadata (no values).
public struct VaultMetadata: Sendable, Equatable {
  public struct Version: Sendable, Equatable {
    public let version: Int
    public let createdTime: String
    /// Empty when not deleted.
    public let deletionTime: String
    public let destroyed: Bool
    public var isDeleted: Bool { !deletionTime.isEmpty }
  }

  public let path: String
  public let currentVersion: Int
  public let oldestVersion: Int
  public let maxVersions: Int
  public let casRequired: Bool
  public let createdTime: String
  public let updatedTime: String
  public let customMetadata: [String: String]
  /// Sorted by version number.
  public let versions: [Version]
}

/// A secrets engine mount as Vault reports it for a path.
public struct VaultMount: Sendable, Equatable {
  /// With its trailing slash, e.g. `secret/`.
  public let path: String
  public let type: String
  /// 1 or 2 for KV; 0 for other engines.
  public let kvVersion: Int

  /// The one KV path rule: the API path of `relative` (below this mount, no leading or
  /// trailing `/`) for a KV v2 `segment` (`data`, `metadata`, `delete`, `destroy`, …):
  /// `mount/segment/relative`. On KV v1 (no segments) the plain `mount/relative`.
  public func apiPath(_ segment: String, _ relative: String) -> String {
    guard kvVersion == 2 else { return path + relative }
    return path + segment + (relative.isEmpty ? "" : "/" + relative)
  }
}

/// `sys/health`: whether Vault can serve.
public struct VaultHealth: Sendable, Equatable {
  public let initialized: Bool
  public let sealed: Bool
  public let standby: Bool
  public let version: String
}

/// `auth/token/lookup-self`: who the token is, never the token.
public struct VaultTokenInfo: Sendable, Equatable {
  public let displayName: String
  public let policies: [String]
  /// Seconds left; 0 for a token that does not expire.
  public let ttl: Int
  public let renewable: Bool
}
