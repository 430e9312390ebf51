import LockstepCore

/// What a policy requires of each system before a rotation may change anything, checked
/// once and produced as data: `rotate run`/`resume` stop on any problem, and `doctor
/// --policy` renders the same list, so the two can never disagree.
///
/// Every reference the policy makes is proven, not assumed: the live secret exists and the
/// Vault token holds the rights the steps use; then each target checks its own
/// requirements (`RotationTarget.preflight`), all targets side by side.
public struct RotationPreflight: Sendable {
  public typealias Check = PreflightCheck

  let policy: RotationPolicy
  let store: (any SecretStore)?
  let services: RotationServices

  public init(policy: RotationPolicy, store: (any SecretStore)?, services: RotationServices) {
    self.policy = policy
    self.store = store
    self.services = services
  }

  /// What the Vault part of a rotation needs (the targets' needs are theirs):
  /// `policy.vaultRequirements + policy.requirements` is the whole list doctor renders.
  public static func vaultRequirements(_ policy: RotationPolicy) -> [PreflightRequirement] {
    let paths = policy.vault
    return [
      PreflightRequirement(
        system: "Vault", name: "Vault live secret", need: .vaultSecret(path: paths.secret)),
      PreflightRequirement(
        system: "Vault", name: "Vault secret access",
        need: .vaultRights(
          role: "secret", path: paths.secret, rights: ["read", "update"], metadataDelete: false)),
      PreflightRequirement(
        system: "Vault", name: "Vault staging access",
        need: .vaultRights(
          role: "staging", path: paths.staging, rights: ["read", "create", "update"],
          metadataDelete: true)),
      PreflightRequirement(
        system: "Vault", name: "Vault lock access",
        need: .vaultRights(
          role: "lock", path: paths.lock, rights: ["read", "create", "update"],
          metadataDelete: true)),
    ]
  }

  /// Runs every check; `resuming` accepts a missing live secret while a lock is held.
  public func run(resuming: Bool = false) async -> [Check] {
    guard let store else { return await targets(live: nil) }
    let (live, vaultChecks) = await vault(store, resuming: resuming)
    return vaultChecks + (await targets(live: live))
  }

  /// The targets' own checks, side by side, in target order; a check two targets share
  /// (the same login's rights) is shown once.
  public func targets(live: VersionedSecret?) async -> [Check] {
    let context = PreflightContext(policy: policy, services: services, live: live)
    let targets = policy.targets
    let results = await withTaskGroup(of: (Int, [Check]).self) { group in
      for (index, target) in targets.enumerated() {
        group.addTask { (index, await target.preflight(context)) }
      }
      var byIndex: [Int: [Check]] = [:]
      for await (index, checks) in group { byIndex[index] = checks }
      return targets.indices.flatMap { byIndex[$0] ?? [] }
    }
    var unique: [Check] = []
    for check in results where !unique.contains(check) { unique.append(check) }
    return unique
  }

  // MARK: Vault

  func vault(_ store: any SecretStore, resuming: Bool) async -> (VersionedSecret?, [Check]) {
    var checks: [Check] = []
    let name = "Vault secret \(policy.vault.secret)"
    var live: VersionedSecret?
    do {
      live = try await store.read(policy.vault.secret)
      if let live {
        checks.append(.pass("Vault", name, "exists (v\(live.version))"))
      } else if resuming, try await store.read(policy.vault.lock) != nil {
        checks.append(.pass("Vault", name, "no live version, a rotation holds the lock"))
      } else {
        checks.append(
          .fail("Vault", name, "the live secret \(policy.vault.secret) does not exist in Vault"))
      }
      let missing = try await store.missingRights(
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
}
