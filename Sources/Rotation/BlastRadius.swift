import LockstepCore

/// Every key a compromise exposed, and what the policy does about each: the live secret's
/// keys (and those of each Kubernetes Secret the policy writes), each rotated, derived,
/// rotated by a target, a manual follow-up, kept with a reason, or unaccounted. Under
/// `strategy: single` an unaccounted key fails the plan (and the run's preflight): a typo or
/// a forgotten key must not leave a leaked value valid in silence.
public struct BlastRadius: Sendable, Equatable {
  public enum Account: Sendable, Equatable {
    /// Generated anew; the systems learn it through deploy.
    case rotated
    /// Generated anew and applied to a system by a target (`postgres role aura`,
    /// `hook minio`).
    case rotatedByTarget(String)
    /// Rendered from other keys (`DATABASE_URL` from `DATABASE_PASSWORD`).
    case derived([String])
    /// `strategy: alternating`: names the role, switched to the other one of the pair.
    case switched
    /// A person rotates it and confirms with `rotate confirm`.
    case manual(String)
    case kept(String)
    case unaccounted

    public var name: String {
      switch self {
      case .rotated: "rotated"
      case .rotatedByTarget: "rotated by a target"
      case .derived: "derived"
      case .switched: "switched"
      case .manual: "manual follow-up"
      case .kept: "kept"
      case .unaccounted: "unaccounted"
      }
    }

    public var detail: String {
      switch self {
      case .rotated, .switched, .unaccounted: ""
      case .rotatedByTarget(let target): target
      case .derived(let sources): sources.joined(separator: ", ")
      case .manual(let instructions): instructions
      case .kept(let reason): reason
      }
    }
  }

  public struct Entry: Sendable, Equatable {
    public var key: String
    /// Where the key was found: the Vault path, or `kubernetes secret NS/NAME`.
    public var source: String
    public var account: Account
  }

  public var entries: [Entry]

  public var unaccounted: [Entry] { entries.filter { $0.account == .unaccounted } }

  /// What the policy says of `key`.
  public static func account(of key: String, in policy: RotationPolicy) -> Account {
    if policy.rotate.contains(where: { $0.key == key }) {
      let targets = policy.targets.filter { $0.appliedKeys(in: policy).contains(key) }.map(
        \.label)
      return targets.isEmpty ? .rotated : .rotatedByTarget(targets.joined(separator: ", "))
    }
    if policy.targets.contains(where: { $0.changedKeys(in: policy).contains(key) }) {
      return .switched
    }
    if let derived = policy.derive.first(where: { $0.key == key }) {
      return .derived(derived.template.references)
    }
    if let manual = policy.manual.first(where: { $0.key == key }) {
      return .manual(manual.instructions)
    }
    if let kept = policy.keep.first(where: { $0.key == key }) { return .kept(kept.reason) }
    return .unaccounted
  }

  /// `liveKeys`: the key names of the live secret; `secretKeys`: the key names of each
  /// Kubernetes Secret the policy writes (`NS/NAME`), as far as they could be read.
  public static func assess(
    policy: RotationPolicy, liveKeys: [String], secretKeys: [(String, [String])] = []
  ) -> BlastRadius {
    var entries = liveKeys.sorted().map { key in
      Entry(key: key, source: policy.vault.secret, account: account(of: key, in: policy))
    }
    // Keys the policy names but the live secret lacks: a rotation creates them.
    for key in policy.changedKeys where !liveKeys.contains(key) {
      entries.append(
        Entry(
          key: key, source: policy.vault.secret + " (new)", account: account(of: key, in: policy)))
    }
    for (secret, keys) in secretKeys {
      for key in keys.sorted() where !liveKeys.contains(key) {
        entries.append(
          Entry(
            key: key, source: "kubernetes secret \(secret)", account: account(of: key, in: policy)))
      }
    }
    return BlastRadius(entries: entries)
  }

  /// The one sentence a plan or a preflight fails with.
  public func unaccountedSentence(policy: RotationPolicy) -> String? {
    let missing = unaccounted
    guard !missing.isEmpty else { return nil }
    let names = missing.map { entry in
      entry.source == policy.vault.secret ? entry.key : "\(entry.key) (\(entry.source))"
    }
    return
      "strategy single accounts for every leaked key, and the policy says nothing of \(names.joined(separator: ", ")): rotate or derive it, give it to a target, list it under manual, or keep it with a reason"
  }
}
