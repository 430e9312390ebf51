import Kubernetes
import LockstepCore
import Postgres

/// The orchestrator's view of each outside system: small protocols so that the state
/// machine reads as the runbook does. Adapters in `Adapters/` implement them with the real
/// Vault, PostgreSQL, kubectl and Redis clients; tests use those same clients against real
/// servers. All calls block: the orchestrator runs on its own thread, one step at a time.

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
  func read(_ path: String) throws -> VersionedSecret?
  /// Writes `values` as the whole new version with check-and-set: `cas` 0 means the path
  /// must not exist yet. Returns the new version. A CAS mismatch throws `StoreConflict`.
  func write(_ path: String, _ values: [String: SecretBytes], cas: Int, jsonKeys: Set<String>)
    throws -> Int
  /// Removes every version and the metadata (the staging copy and the lock).
  func destroy(_ path: String) throws
  /// Preflight: one sentence per right the token lacks for a rotation of `secret` with
  /// this `staging` copy and `lock` (empty when everything is allowed).
  func missingRights(secret: String, staging: String, lock: String) throws -> [String]
}

extension SecretStore {
  /// A write whose values are all strings.
  public func write(_ path: String, _ values: [String: SecretBytes], cas: Int) throws -> Int {
    try write(path, values, cas: cas, jsonKeys: [])
  }
}

/// Thrown by `SecretStore.write` when the version is not the one expected.
public struct StoreConflict: Error, Sendable {
  public let path: String
  public init(path: String) { self.path = path }
}

public enum LoginOutcome: Sendable, Equatable {
  case accepted
  case refused
  case unreachable(String)
}

public protocol DatabaseRoles: Sendable {
  /// Sets the role's password from a client-side SCRAM verifier.
  func setPassword(role: String, password: SecretBytes) throws
  /// Ends the role's other sessions; returns how many.
  func terminateSessions(role: String) throws -> Int
  func verifyLogin(role: String, password: SecretBytes, database: String) -> LoginOutcome
  /// The login Lockstep itself uses, so a policy cannot rotate it.
  func currentUser() throws -> String
  /// Whether that login may ALTER ROLE (superuser or CREATEROLE).
  func canManageRoles() throws -> Bool
  /// Memberships, settings, ownership and direct grants of `role`; nil when it is missing.
  func profile(role: String) throws -> PostgresRoleProfile?
  /// `GRANT group TO role` for each membership, with its options.
  func grant(_ memberships: [PostgresRoleProfile.Membership], to role: String) throws
  /// Whether that login may end other roles' sessions (superuser or pg_signal_backend).
  func canSignalBackends() throws -> Bool
  func databaseExists(_ name: String) throws -> Bool
  /// What keeps a password login of `role` on `database` from sending the password in
  /// clear; `verifyLogin` makes no login when this is `.none`.
  func passwordExchangeGuard(role: String, database: String) -> PasswordExchangeGuard
  /// pg_hba_file_rules' answer for `role` on `database` from this host.
  func admission(role: String, database: String) -> PostgresAdmission
}

public protocol DeploymentTarget: Sendable {
  func updateSecret(
    namespace: String, name: String, values: [String: SecretBytes], context: String?) throws
  func patchEnv(
    namespace: String, kind: WorkloadKind, deployment: String, container: String?,
    values: [String: SecretBytes], context: String?) throws
  /// Restarts the rollout; returns what the restarted pod template reads, when known.
  func restart(namespace: String, kind: WorkloadKind, deployment: String, context: String?)
    throws -> TemplateReferences?
  func waitForRollout(
    namespace: String, kind: WorkloadKind, deployment: String, timeout: Duration,
    context: String?, progress: @escaping @Sendable (String) -> Void) throws
  /// Preflight: may we patch workloads of these kinds there?
  func canDeploy(namespace: String, context: String?, kinds: [WorkloadKind]) throws -> Bool
  /// Preflight: `kubectl auth can-i VERB RESOURCE` in the namespace.
  func canI(_ verb: String, _ resource: String, namespace: String, context: String?) throws
    -> Bool
  /// What the workload's pod template reads; nil when the workload does not exist.
  func templateReferences(
    namespace: String, kind: WorkloadKind, deployment: String, context: String?
  ) throws -> TemplateReferences?
  /// Whether a namespaced object (`secret`) or a namespace (`namespace`) exists.
  func exists(kind: String, name: String, namespace: String, context: String?) throws -> Bool
  /// The controller (ESO, VSO) that writes Secret `name`, or nil.
  func secretOwner(namespace: String, name: String, context: String?) throws -> SecretOwner?
  /// Asks `owner` to sync now; false when its controller has no such request (VSO).
  func requestSync(_ owner: SecretOwner, namespace: String, context: String?, stamp: String)
    throws -> Bool
  /// The keys of Secret `secret` not yet holding `values`, compared by `digest` only.
  func keysDiffering(
    namespace: String, secret: String, values: [String: SecretBytes], context: String?,
    digest: @escaping @Sendable (UnsafeRawBufferPointer) -> [UInt8]
  ) throws -> [String]
}

public protocol SessionStore: Sendable {
  func invalidate(pattern: String, batch: Int) throws -> Int
  func flush() throws
  /// Preflight: can we reach it and run SCAN/UNLINK?
  func check() throws
}
