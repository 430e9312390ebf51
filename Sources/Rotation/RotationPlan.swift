import LockstepCore

/// The text of `rotate plan`: what a run would change, from the policy and (when Vault
/// answers) the key names of the live secret. No values, and no writes.
public enum RotationPlan {
  /// `live` nil: the live secret was not read (the confirmation before a run);
  /// `.success(nil)`: it was read and does not exist.
  public static func lines(
    policy: RotationPolicy, live: Result<VersionedSecret?, any Error>?,
    secretKeys: [(String, [String])] = []
  ) -> [String] {
    var lines = ["Rotation plan: \(policy.name)", ""]
    lines.append("Vault secret \(policy.vault.secret)")
    switch live {
    case .success(let secret?):
      lines.append(
        "  live version v\(secret.version); promote writes v\(secret.version + 1) with cas=\(secret.version)"
      )
      let radius = BlastRadius.assess(
        policy: policy, liveKeys: Array(secret.values.keys), secretKeys: secretKeys)
      lines.append("")
      lines.append("Blast radius (every key a leak of the secret exposed):")
      let width = min(28, radius.entries.map(\.key.count).max() ?? 0)
      for entry in radius.entries {
        let source = entry.source == policy.vault.secret ? "" : " [\(entry.source)]"
        let detail = entry.account.detail.isEmpty ? "" : ": \(entry.account.detail)"
        lines.append(
          "  \(entry.key.padding(toLength: max(width, entry.key.count), withPad: " ", startingAt: 0))  \(entry.account.name)\(detail)\(source)"
        )
      }
      if let sentence = radius.unaccountedSentence(policy: policy) {
        lines.append(
          policy.strategy == .single
            ? "  ✘ \(sentence)"
            : "  note: not accounted for (strategy alternating allows it): \(radius.unaccounted.map(\.key).joined(separator: ", "))"
        )
      }
    case .success(nil):
      lines.append(
        "  the live secret does not exist: a run stops at preflight (check the path, or the token's rights)"
      )
    case nil:
      lines.append("  (live secret not read)")
    case .failure(let error):
      lines.append("  (could not read the live secret: \(error))")
    }
    lines.append("  staging: \(policy.vault.staging); lock: \(policy.vault.lock)")
    lines.append("")
    lines.append("Keys to regenerate:")
    for key in policy.rotate { lines.append("  \(key.key): \(describe(key.generator))") }
    if !policy.derive.isEmpty {
      lines.append("Keys derived from them:")
      for key in policy.derive {
        switch key.template {
        case .urlPassword(let source, let user?):
          lines.append("  \(key.key): its URL's user and password replaced by \(user), \(source)")
        case .urlPassword(let source, nil):
          lines.append("  \(key.key): its URL's password replaced by \(source)")
        case .text:
          lines.append(
            "  \(key.key): rendered from a template (\(key.template.references.joined(separator: ", ")))"
          )
        }
      }
    }
    lines.append("")
    lines.append("Steps:")
    let context = PlanContext(policy: policy, live: try? live?.get())
    let planned = policy.targets.map { $0.plan(context) }
    func show(_ step: Rotator.Step, _ text: String) {
      let number = (Rotator.Step.allCases.firstIndex(of: step) ?? 0) + 1
      let name = step.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
      lines.append("  \(number) \(name) \(text)")
    }
    func show(_ steps: Set<Rotator.Step>) {
      for line in planned.flatMap({ $0 }) where steps.contains(line.step) {
        show(line.step, line.text)
      }
    }
    show(.lock, "take \(policy.vault.lock) with cas=0")
    show(.stage, "generate new values, write them to \(policy.vault.staging)")
    show([.apply, .verify])
    show(.promote, "write \(policy.vault.secret) with check-and-set, other keys kept")
    show([.deploy])
    show([.invalidate])
    show([.finish])
    for manual in policy.manual {
      show(
        .finish,
        "\(manual.key) stays pending for a person: rotate it, then `lockstep rotate confirm --key \(manual.key)`"
      )
    }
    show(.finish, "destroy staging, seal evidence, release lock")
    lines.append("")
    lines.append(
      "Preflight checks before any change (`lockstep doctor --policy` shows the same checks):")
    for requirement in RotationPreflight.vaultRequirements(policy) + policy.requirements {
      lines.append("  \(requirement.name): \(describe(requirement.need))")
    }
    return lines
  }

  /// The plan for machines (`rotate plan --json`): the paths, the versions and the blast
  /// radius; key names and classes only, never a value.
  public static func json(
    policy: RotationPolicy, live: Result<VersionedSecret?, any Error>,
    secretKeys: [(String, [String])] = []
  ) -> [String: Any] {
    var object: [String: Any] = [
      "policy": policy.name, "strategy": policy.strategy.rawValue, "secret": policy.vault.secret,
      "staging": policy.vault.staging, "lock": policy.vault.lock,
      "rotated": policy.rotate.map(\.key), "derived": policy.derive.map(\.key),
      "hooks": policy.hooks.map { ["name": $0.name, "run": $0.executable, "keys": $0.keys] },
      "manual": policy.manual.map { ["key": $0.key, "instructions": $0.instructions] },
      "kept": policy.keep.map { ["key": $0.key, "reason": $0.reason] },
    ]
    switch live {
    case .success(let secret?):
      object["live_version"] = secret.version
      let radius = BlastRadius.assess(
        policy: policy, liveKeys: Array(secret.values.keys), secretKeys: secretKeys)
      object["keys"] = radius.entries.map { entry -> [String: Any] in
        var item: [String: Any] = [
          "key": entry.key, "source": entry.source, "class": entry.account.name,
        ]
        if !entry.account.detail.isEmpty { item["detail"] = entry.account.detail }
        return item
      }
      object["unaccounted"] = radius.unaccounted.map(\.key)
      object["complete"] = radius.unaccounted.isEmpty
    case .success(nil):
      object["live_error"] = "the live secret does not exist"
    case .failure(let error):
      object["live_error"] = "\(error)"
    }
    return object
  }

  /// A requirement in words.
  public static func describe(_ need: PreflightRequirement.Need) -> String {
    switch need {
    case .vaultSecret(let path): "\(path) exists"
    case .vaultRights(_, let path, let rights, let metadataDelete):
      "the token may \(rights.joined(separator: ", ")) \(path)"
        + (metadataDelete ? " and delete its metadata" : "")
    case .kubectlCanI(let verb, let resource, let namespace, let context):
      "kubectl may \(verb) \(resource) in \(context.map { "\($0)/" } ?? "")\(namespace)"
    case .redisCommands(let variable, let pattern, let commands):
      "$\(variable) allows \(commands.joined(separator: ", "))"
        + (pattern.map { " on \($0)" } ?? " on the whole database")
    case .described(let text): text
    }
  }

  static func describe(_ generator: SecretGenerator) -> String {
    switch generator {
    case .randomBytes(let count, let encoding): "\(count) random bytes, \(encoding.rawValue)"
    case .password(let length, let alphabet, let required):
      "password of \(length) characters from \(alphabet.count) symbols with \(required.map(\.rawValue).joined(separator: ", "))"
    }
  }
}
