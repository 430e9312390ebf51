import Crypto
import Evidence
import Foundation
import LockstepCore

/// `rotate confirm`: a person rotated a `manual:` key at its provider and gives Lockstep the
/// new value (on stdin, never argv). It is written to the live secret with check-and-set,
/// deployed like the rotated keys (each Kubernetes target that receives the key: Secret or
/// env, restart, rollout), taken off the pending follow-ups, and recorded in a sealed
/// evidence log of its own that names the rotation that left it pending.
public struct ManualConfirmation {
  public struct Outcome: Sendable {
    public var key: String
    public var liveVersion: Int
    /// `NS/DEPLOYMENT` rolled out with the new value.
    public var deployed: [String]
    /// The follow-ups still owed after this one.
    public var stillPending: [String]
    public var evidencePath: String
    /// The rotation that left the key pending (nil when it was not pending).
    public var rotationID: String?
  }

  let policy: RotationPolicy
  let store: any SecretStore
  let deployments: (any DeploymentTarget)?
  let signingKey: Ed25519KeyPair
  let evidenceDirectory: String
  let policyDigest: String
  let progress: @Sendable (String) -> Void

  public init(
    policy: RotationPolicy, store: any SecretStore, deployments: (any DeploymentTarget)?,
    signingKey: Ed25519KeyPair, evidenceDirectory: String, policyDigest: String = "",
    progress: @escaping @Sendable (String) -> Void = { _ in }
  ) {
    self.policy = policy
    self.store = store
    self.deployments = deployments
    self.signingKey = signingKey
    self.evidenceDirectory = evidenceDirectory
    self.policyDigest = policyDigest
    self.progress = progress
  }

  /// The deployments that receive `key`.
  public func targets(of key: String) -> [KubernetesDeploymentTarget] {
    policy.kubernetes.filter { $0.keys.contains(key) }
  }

  public func confirm(key: String, value: SecretBytes) async throws -> Outcome {
    guard policy.manual.contains(where: { $0.key == key }) else {
      let known = policy.manual.map(\.key)
      throw UserError(
        "\(key) is not a manual follow-up of this policy (manual keys: \(known.isEmpty ? "none" : known.joined(separator: ", ")))",
        exit: .usage)
    }
    guard !value.isEmpty, value.count <= 65536,
      value.withUnsafeBytes({ !$0.contains(0) }), HookInvocation.isUTF8(value)
    else {
      throw UserError(
        "the new value of \(key) must be 1 to 65536 bytes of UTF-8 text without NUL",
        exit: .dataError)
    }
    if try await store.read(policy.vault.lock) != nil {
      throw UserError(
        "a rotation holds the lock \(policy.vault.lock); finish it (`lockstep rotate resume`) before confirming \(key)",
        exit: .temporaryFailure)
    }
    guard let live = try await store.read(policy.vault.secret) else {
      throw RotationError.liveSecretMissing(path: policy.vault.secret)
    }
    var pending = try await PendingFollowUps.read(policy: policy, store: store)
    var item = pending.items.first { $0.key == key }
    // A confirm that wrote this value and stopped before the end (deploy failed, a crash)
    // is continued; any other value equal to the live one is the leaked value.
    let resumed =
      item?.confirmingVersion.map { live.version >= $0 } == true && live.values[key] == value
    if !resumed, let old = live.values[key], old == value {
      throw UserError(
        "the value given for \(key) is the one already in \(policy.vault.secret), the leaked one: rotate it at the provider first",
        exit: .dataError)
    }

    let id = UUID().uuidString.lowercased()
    let evidence = try EvidenceLog(
      path: "\(evidenceDirectory)/\(id).jsonl", signingKey: signingKey, policyDigest: policyDigest)
    var details: [String: Any] = [
      "key": key, "previous_version": live.version,
      "old": live.values[key].map { evidence.fingerprint($0) } ?? "absent",
      "new": evidence.fingerprint(value), "was_pending": item != nil,
      "value_from": "stdin of rotate confirm",
    ]
    if let item { details["rotation_id"] = item.rotationID }

    if var marked = item, !resumed {
      marked.confirmingVersion = live.version + 1
      let items = pending.items.map { $0.key == key ? marked : $0 }
      pending.version = try await PendingFollowUps.update(
        items, policy: policy, store: store, cas: pending.version)
      pending.items = items
      item = marked
    }
    var values = live.values
    values[key] = value
    let version: Int
    do {
      if resumed {
        version = live.version
      } else {
        version = try await store.write(
          policy.vault.secret, values, cas: live.version,
          jsonKeys: live.jsonKeys.subtracting([key]))
      }
    } catch is StoreConflict {
      try evidence.record(
        step: "confirm", target: policy.vault.secret, outcome: "failed",
        details: details.merging(["reason": "check-and-set conflict"]) { $1 })
      try evidence.seal()
      throw UserError(
        "\(policy.vault.secret) changed while confirming \(key) (expected version \(live.version)); nothing was overwritten: run rotate confirm again",
        exit: .temporaryFailure)
    }
    details["version"] = version
    if resumed { details["resumed"] = true }
    try evidence.record(
      step: "confirm", target: policy.vault.secret, outcome: "ok", details: details)
    progress("\(policy.vault.secret) v\(version) holds the new \(key)")

    var deployed: [String] = []
    let receiving = targets(of: key)
    if !receiving.isEmpty {
      guard let deployments else {
        throw UserError("\(key) is deployed to Kubernetes, but no kubectl client was given")
      }
      // Deployed as a rotation deploys it, by the target itself: each target writes what
      // it receives of the staged values (this key alone), through the Secret's operator
      // where one owns it, restarts, waits, and proves the restarted pods read the Secret.
      let context = StepContext(
        policy: policy, services: RotationServices(deployments: deployments),
        staged: [key: value], live: nil, fingerprint: evidence.fingerprinter,
        progress: progress, memo: StepContext.Memo())
      for target in receiving {
        for record in try await target.deploy(context) {
          var details = record.details.mapValues(\.json)
          if details["keys"] != nil { details["keys"] = [key] }
          try evidence.record(
            step: record.step ?? "deploy", target: record.target, outcome: record.outcome,
            details: details)
        }
        progress("\(target.label) rolled out with the new \(key)")
        deployed.append("\(target.namespace)/\(target.deployment)")
      }
    }

    let remaining = pending.items.filter { $0.key != key }
    if item != nil {
      try await PendingFollowUps.write(
        remaining, policy: policy, store: store, cas: pending.version)
    }
    try evidence.record(
      step: "follow-up", target: key, outcome: "confirmed",
      details: ["still_pending": remaining.map(\.key)])
    try evidence.seal()
    return Outcome(
      key: key, liveVersion: version, deployed: deployed, stillPending: remaining.map(\.key),
      evidencePath: evidence.path, rotationID: item?.rotationID)
  }
}
