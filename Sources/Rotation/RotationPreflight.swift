import Dispatch
import Kubernetes
import LockstepCore
import Postgres
import Synchronization

/// What a policy requires of each system before a rotation may change anything, checked
/// once and produced as data: `rotate run`/`resume` stop on any problem, and `doctor
/// --policy` renders the same list, so the two can never disagree.
///
/// Every reference the policy makes is proven, not assumed: the live secret exists; each
/// role exists and can be verified without its password ever crossing the wire in clear,
/// and pg_hba.conf admits it from here; each namespace, deployment and Secret exists and
/// the deployment reads that Secret; the rights each later step uses are held.
public struct RotationPreflight: Sendable {
  public struct Check: Sendable, Equatable {
    public var system: String
    public var name: String
    /// What passed, in a few words.
    public var detail: String
    /// The one sentence saying what is wrong, or nil when the check passed.
    public var problem: String?
    /// The policy would rotate Lockstep's own login (reported as its own error).
    public var ownCredential = false

    static func pass(_ system: String, _ name: String, _ detail: String) -> Check {
      Check(system: system, name: name, detail: detail, problem: nil)
    }

    static func fail(_ system: String, _ name: String, _ problem: String) -> Check {
      Check(system: system, name: name, detail: "", problem: problem)
    }
  }

  let policy: RotationPolicy
  let store: (any SecretStore)?
  let database: (any DatabaseRoles)?
  let deployments: (any DeploymentTarget)?
  let sessions: [String: any SessionStore]

  public init(
    policy: RotationPolicy, store: (any SecretStore)?, database: (any DatabaseRoles)?,
    deployments: (any DeploymentTarget)?, sessions: [String: any SessionStore]
  ) {
    self.policy = policy
    self.store = store
    self.database = database
    self.deployments = deployments
    self.sessions = sessions
  }

  /// Runs every check; `resuming` accepts a missing live secret while a lock is held.
  public func run(resuming: Bool = false) -> [Check] {
    var checks: [Check] = []
    var live: VersionedSecret?
    if let store {
      let (found, vaultChecks) = vault(store, resuming: resuming)
      live = found
      checks += vaultChecks
    }
    checks += postgres(live: live)
    checks += kubernetes()
    checks += redis()
    return checks
  }

  // MARK: Vault

  func vault(_ store: any SecretStore, resuming: Bool) -> (VersionedSecret?, [Check]) {
    var checks: [Check] = []
    let name = "Vault secret \(policy.vault.secret)"
    var live: VersionedSecret?
    do {
      live = try store.read(policy.vault.secret)
      if let live {
        checks.append(.pass("Vault", name, "exists (v\(live.version))"))
      } else if resuming, try store.read(policy.vault.lock) != nil {
        checks.append(.pass("Vault", name, "no live version, a rotation holds the lock"))
      } else {
        checks.append(
          .fail("Vault", name, "the live secret \(policy.vault.secret) does not exist in Vault"))
      }
      let missing = try store.missingRights(
        secret: policy.vault.secret, staging: policy.vault.staging, lock: policy.vault.lock)
      checks.append(
        missing.isEmpty
          ? .pass("Vault", "Vault rights", "read/update the secret, staging and lock")
          : .fail("Vault", "Vault rights", missing.joined(separator: "; ")))
    } catch {
      checks.append(.fail("Vault", name, "Vault: \(error)"))
    }
    return (live, checks)
  }

  // MARK: PostgreSQL

  public func postgres(live: VersionedSecret?) -> [Check] {
    guard !policy.postgres.isEmpty else { return [] }
    let system = "PostgreSQL"
    guard let database else {
      return [
        .fail(
          system, "PostgreSQL login",
          "the policy has PostgreSQL targets but no PostgreSQL connection is configured")
      ]
    }
    var checks: [Check] = []
    do {
      let user = try database.currentUser()
      let rotated = policy.postgres.flatMap { [$0.role] + ($0.alternateRole.map { [$0] } ?? []) }
      if rotated.contains(user) {
        var check = Check.fail(
          system, "PostgreSQL own login",
          "the policy rotates PostgreSQL role \(user), the role Lockstep itself logs in as")
        check.ownCredential = true
        check.detail = "PostgreSQL role \(user)"
        checks.append(check)
      } else {
        checks.append(
          .pass(system, "PostgreSQL own login", "\(user) is not among the rotated roles"))
      }
      checks.append(
        try database.canManageRoles()
          ? .pass(system, "PostgreSQL rights", "\(user) may change passwords")
          : .fail(
            system, "PostgreSQL rights",
            "PostgreSQL login \(user) is neither superuser nor CREATEROLE, so it may not change other roles' passwords"
          ))
      if policy.postgres.contains(where: \.terminateSessions) {
        checks.append(
          try database.canSignalBackends()
            ? .pass(system, "PostgreSQL end sessions", "\(user) may end other roles' sessions")
            : .fail(
              system, "PostgreSQL end sessions",
              "PostgreSQL login \(user) may not end the rotated roles' sessions (terminate_sessions): grant it pg_signal_backend"
            ))
      }
      for target in policy.postgres {
        checks += try roleChecks(target, database, live: live)
      }
      if policy.strategy == .alternating {
        checks += try pairChecks(database, live: live)
      }
    } catch {
      checks.append(.fail(system, "PostgreSQL login", "PostgreSQL: \(error)"))
    }
    return checks
  }

  func roleChecks(
    _ target: RotationPolicy.PostgresTarget, _ database: any DatabaseRoles,
    live: VersionedSecret?
  ) throws -> [Check] {
    let system = "PostgreSQL"
    var checks: [Check] = []
    guard try database.databaseExists(target.verifyDatabase) else {
      return [
        .fail(
          system, "PostgreSQL database \(target.verifyDatabase)",
          "PostgreSQL database \(target.verifyDatabase) (verify_database of role \(target.role)) does not exist"
        )
      ]
    }
    checks.append(
      .pass(
        system, "PostgreSQL database \(target.verifyDatabase)",
        "exists (the new password is verified there)"))
    for role in [target.role] + (target.alternateRole.map { [$0] } ?? []) {
      let name = "PostgreSQL role \(role)"
      guard try database.profile(role: role) != nil else {
        checks.append(
          .fail(
            system, name,
            "PostgreSQL role \"\(role)\" named by the policy does not exist (a typo? fix the policy, then run again)"
          ))
        continue
      }
      checks.append(.pass(system, name, "exists"))
      checks.append(loginCheck(role, target, database, live: live))
    }
    return checks
  }

  /// For `strategy: alternating`: each pair usable whichever role is in use, and the role
  /// about to be used holding no membership the role in use lacks.
  func pairChecks(_ database: any DatabaseRoles, live: VersionedSecret?) throws -> [Check] {
    var checks: [Check] = []
    var seen = Set<String>()
    for target in policy.postgres {
      guard let alternate = target.alternateRole else { continue }
      let name = "PostgreSQL pair \(target.role)/\(alternate)"
      let (problems, profiles) = try Rotator.pairProblems(target) { try database.profile(role: $0) }
      seen.formUnion(problems)
      if !problems.isEmpty {
        checks.append(.fail("PostgreSQL", name, problems.joined(separator: "; ")))
      } else if profiles.count == 2, profiles[0].memberships != profiles[1].memberships {
        checks.append(
          .pass(
            "PostgreSQL", name,
            "group memberships differ: a rotation grants the next role those of the role in use, and refuses if it holds more"
          ))
      } else {
        checks.append(
          .pass(
            "PostgreSQL", name, "equal rights (memberships, settings, grants), no owned objects"))
      }
    }
    for problem in try Rotator.alternatingProblems(policy, database, live: live)
    where !seen.contains(problem) {
      checks.append(.fail("PostgreSQL", "PostgreSQL role pair", problem))
    }
    return checks
  }

  /// The role can log in to verify_database from here, with a login that cannot reveal a
  /// password: else `ALTER ROLE` would succeed and verify fail, the application locked out.
  func loginCheck(
    _ role: String, _ target: RotationPolicy.PostgresTarget, _ database: any DatabaseRoles,
    live: VersionedSecret?
  ) -> Check {
    let system = "PostgreSQL"
    let name = "PostgreSQL login of \(role) to \(target.verifyDatabase)"
    let admission = database.admission(role: role, database: target.verifyDatabase)
    switch admission {
    case .reject(let line):
      return .fail(
        system, name,
        "pg_hba.conf line \(line) rejects role \(role) on database \(target.verifyDatabase) from this host, so the new password could never be verified; fix pg_hba.conf first"
      )
    case .noRule:
      return .fail(
        system, name,
        "no pg_hba.conf line admits role \(role) on database \(target.verifyDatabase) from this host, so the new password could never be verified"
      )
    default: break
    }
    let guardrail = database.passwordExchangeGuard(role: role, database: target.verifyDatabase)
    if case .none(let why) = guardrail {
      return .fail(
        system, name, "the new password of \(role) would not be verified safely: \(why)")
    }
    if case .challenge(let line, let method) = admission {
      return .pass(system, name, "pg_hba.conf line \(line) admits it with \(method)")
    }
    // The rules could not be read (libpq 16+ or channel binding guards the password):
    // prove the login with the live password instead.
    guard policy.strategy == .single, let password = live?.values[target.passwordKey] else {
      return .pass(system, name, "guarded by \(guardrail)")
    }
    switch database.verifyLogin(role: role, password: password, database: target.verifyDatabase)
    {
    case .accepted:
      return .pass(system, name, "the live password logs in")
    case .refused:
      return .pass(
        system, name, "the live password is refused (it changes now); the server admits the role")
    case .unreachable(let why):
      return .fail(system, name, "role \(role) cannot log in to \(target.verifyDatabase): \(why)")
    }
  }

  // MARK: Kubernetes

  public func kubernetes() -> [Check] {
    guard !policy.kubernetes.isEmpty else { return [] }
    let system = "Kubernetes"
    guard let deployments else {
      return [
        .fail(
          system, "kubectl", "the policy has Kubernetes targets but kubectl is not available")
      ]
    }
    var checks: [Check] = []
    var scopes: [(String?, String)] = []
    for target in policy.kubernetes
    where !scopes.contains(where: {
      $0.0 == target.context && $0.1 == target.namespace
    }) {
      scopes.append((target.context, target.namespace))
    }
    for (context, namespace) in scopes {
      let label = context.map { "\($0)/\(namespace)" } ?? namespace
      var kinds: [WorkloadKind] = []
      for target in policy.kubernetes
      where target.context == context && target.namespace == namespace
        && !kinds.contains(target.kind)
      {
        kinds.append(target.kind)
      }
      let what = kinds.map { $0.rawValue + "s" }.joined(separator: ", ")
      do {
        // Secret rights are checked per target: a Secret an operator owns is not written.
        checks.append(
          try deployments.canDeploy(namespace: namespace, context: context, kinds: kinds)
            ? .pass(system, "kubectl rights (\(label))", "may patch \(what)")
            : .fail(
              system, "kubectl rights (\(label))",
              "kubectl may not patch \(what) in namespace \(label)"))
      } catch {
        checks.append(.fail(system, "kubectl rights (\(label))", "Kubernetes: \(error)"))
      }
    }
    // One kubectl read or two per target: run them side by side (each blocks on a child).
    let targets = policy.kubernetes
    let results = Mutex([Check?](repeating: nil, count: targets.count))
    DispatchQueue.concurrentPerform(iterations: targets.count) { index in
      let check = Self.referenceCheck(targets[index], deployments)
      results.withLock { $0[index] = check }
    }
    return checks + results.withLock { $0.compactMap { $0 } }
  }

  /// The deployment exists and reads what the rotation writes: the Secret (which must
  /// exist) in mode `secret`, the named container in mode `env`.
  public static func referenceCheck(
    _ target: RotationPolicy.KubernetesTarget, _ deployments: any DeploymentTarget
  ) -> Check {
    let system = "Kubernetes"
    let label = target.label
    do {
      guard
        let references = try deployments.templateReferences(
          namespace: target.namespace, kind: target.kind, deployment: target.deployment,
          context: target.context)
      else {
        // Say which is missing: the namespace (the deployment read cannot tell), or the
        // deployment in it.
        let namespaceExists = try? deployments.exists(
          kind: "namespace", name: target.namespace, namespace: target.namespace,
          context: target.context)
        if namespaceExists == false {
          return .fail(system, label, "namespace \(target.namespace) does not exist")
        }
        return .fail(system, label, "\(label) does not exist")
      }
      if let problem = references.rolloutProblem(target.kind) {
        return .fail(
          system, label,
          "\(label) cannot be restarted so that every pod reads the new values: \(problem)")
      }
      switch target.mode {
      case .secret:
        let secret = target.secretName ?? target.deployment
        guard
          try deployments.exists(
            kind: "secret", name: secret, namespace: target.namespace, context: target.context)
        else {
          return .fail(
            system, label,
            "Secret \(target.namespace)/\(secret) does not exist; \(label) reads \(Self.list(references.secrets)) (a typo in the policy's secret?)"
          )
        }
        guard references.secrets.contains(secret) else {
          return .fail(
            system, label,
            "\(label) does not read Secret \(secret) (its pods read \(Self.list(references.secrets))), so new values written there would never reach it"
          )
        }
        return try secretWriteCheck(target, secret, deployments)
      case .env:
        if let container = target.container, !references.containers.contains(container) {
          return .fail(
            system, label,
            "\(label) has no container \(container) (it has \(Self.list(Set(references.containers))))"
          )
        }
        return .pass(
          system, label, "exists; env patched in \(target.container ?? "every container")")
      }
    } catch {
      return .fail(system, label, "Kubernetes: \(error)")
    }
  }

  /// How the Secret will get the new values, and whether kubectl may do that: patch the
  /// Secret, or (when External Secrets Operator or Vault Secrets Operator owns it) ask the
  /// owner to sync and wait for it.
  static func secretWriteCheck(
    _ target: RotationPolicy.KubernetesTarget, _ secret: String,
    _ deployments: any DeploymentTarget
  ) throws -> Check {
    let system = "Kubernetes"
    let label = target.label
    guard
      let owner = try deployments.secretOwner(
        namespace: target.namespace, name: secret, context: target.context)
    else {
      guard
        try deployments.canI(
          "patch", "secrets", namespace: target.namespace, context: target.context)
      else {
        return .fail(
          system, label, "kubectl may not patch Secret \(target.namespace)/\(secret)")
      }
      return .pass(system, label, "reads Secret \(secret)")
    }
    switch owner.controller {
    case .externalSecrets:
      guard
        try deployments.canI(
          "patch", owner.resource, namespace: target.namespace, context: target.context)
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

  // MARK: Redis

  func redis() -> [Check] {
    policy.redis.map { target in
      let name = "Redis (\(target.urlVariable))"
      guard let store = sessions[target.urlVariable] else {
        return .fail("Redis", name, "Redis: \(target.urlVariable) is not set")
      }
      do {
        try store.check()
        return .pass("Redis", name, "reachable, SCAN and UNLINK allowed")
      } catch {
        return .fail("Redis", name, "Redis: \(error)")
      }
    }
  }
}
