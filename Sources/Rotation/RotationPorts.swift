import LockstepCore

/// The orchestrator's view of Vault: a small protocol so that the state machine reads as the
/// runbook does. `Adapters/VaultSecretStore.swift` implements it with the real client; tests
/// use that same client against a real server. Each target declares the port to its own
/// system next to it (`DatabaseRoles` in Targets/PostgresRoleTarget.swift, …).

/// A KV secret with its version (KV v2) as the orchestrator sees it.
public struct VersionedSecret: Sendable {
  public var version: Int
  public var values: [String: SecretBytes]
  /// Keys whose values are JSON (numbers, objects…) rather than strings; a write keeps them
  /// as JSON so that a rotation changes no type of a key it keeps.
  public var jsonKeys: Set<String>

  public init(version: Int, values: [String: SecretBytes], jsonKeys: Set<String> = []) {
    self.version = version
    self.values = values
    self.jsonKeys = jsonKeys
  }
}

public protocol SecretStore: Sendable {
  /// The latest version, or nil when the path has no live version.
  func read(_ path: String) async throws -> VersionedSecret?
  /// Writes `values` as the whole new version with check-and-set: `cas` 0 means the path
  /// must not exist yet. Returns the new version. A CAS mismatch throws `StoreConflict`.
  func write(_ path: String, _ values: [String: SecretBytes], cas: Int, jsonKeys: Set<String>)
    async throws -> Int
  /// Removes every version and the metadata (the staging copy and the lock).
  func destroy(_ path: String) async throws
  /// Preflight: one sentence per right the token lacks for a rotation of `secret` with
  /// this `staging` copy and `lock` (empty when everything is allowed).
  func missingRights(secret: String, staging: String, lock: String) async throws -> [String]
}

extension SecretStore {
  /// A write whose values are all strings.
  public func write(_ path: String, _ values: [String: SecretBytes], cas: Int) async throws
    -> Int
  {
    try await write(path, values, cas: cas, jsonKeys: [])
  }
}

/// Thrown by `SecretStore.write` when the version is not the one expected.
public struct StoreConflict: Error, Sendable {
  public let path: String
  public init(path: String) { self.path = path }
}
