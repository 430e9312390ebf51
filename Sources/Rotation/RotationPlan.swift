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
    lines.append("  1 lock        take \(policy.vault.lock) with cas=0")
    lines.append("  2 stage       generate new values, write them to \(policy.vault.staging)")
    for target in policy.postgres {
      let ending = target.terminateSessions ? ", end its other sessions" : ""
      if policy.strategy == .alternating, let alternate = target.alternateRole,
        let userKey = target.userKey
      {
        var inUse: String?
        if case .success(let secret?) = live {
          inUse = [target.role, alternate].first {
            secret.values[userKey]?.unsafeUTF8String() == $0
          }
        }
        let next = inUse.map { $0 == target.role ? alternate : target.role }
        lines.append(
          "  3 apply       roles \(target.role)/\(alternate) alternate; in use: \(inUse ?? "unknown"); "
            + "give \(next ?? "the other role") the memberships of the one in use, ALTER ROLE "
            + "\(next ?? "…") PASSWORD '<SCRAM-SHA-256 verifier>'\(ending)")
        lines.append(
          "  4 verify      new password logs in to \(target.verifyDatabase), memberships equal; "
            + "\(inUse ?? "the role in use") keeps working until the next rotation")
        lines.append("                (promote sets \(userKey) to \(next ?? "the other role"))")
      } else {
        lines.append(
          "  3 apply       ALTER ROLE \(target.role) PASSWORD '<SCRAM-SHA-256 verifier>'\(ending)")
        lines.append(
          "  4 verify      new password logs in to \(target.verifyDatabase), old one is refused")
      }
    }
    for hook in policy.hooks {
      lines.append(
        "  3 apply       hook \(hook.name): run \(hook.executable) with \(hook.keys.joined(separator: ", ")) on stdin (timeout \(hook.timeout))"
      )
    }
    lines.append("  5 promote     write \(policy.vault.secret) with check-and-set, other keys kept")
    for target in policy.kubernetes {
      let how =
        target.mode == .secret
        ? "update Secret \(target.secretName ?? target.deployment)"
        : "patch env of \(target.container ?? "every container")"
      lines.append(
        "  6 deploy      \(target.namespace)/\(target.deployment): \(how) (\(target.keys.joined(separator: ", "))), rollout restart, wait ≤ \(target.rolloutTimeout)"
      )
    }
    for target in policy.redis {
      lines.append(
        target.flushDatabase
          ? "  7 invalidate  FLUSHDB on $\(target.urlVariable) (every key!)"
          : "  7 invalidate  SCAN + UNLINK \(target.pattern ?? "") on $\(target.urlVariable), batches of \(target.batch)"
      )
    }
    for manual in policy.manual {
      lines.append(
        "  8 follow-up   \(manual.key) stays pending for a person: rotate it, then `lockstep rotate confirm --key \(manual.key)`"
      )
    }
    lines.append(
      "  8 finish      scan \(policy.logs.count) log file(s), destroy staging, seal evidence, release lock"
    )
    lines.append("")
    lines.append(
      "Preflight checks before any change: the live secret exists and Vault rights; PostgreSQL "
        + "CREATEROLE (and pg_signal_backend), each role and verify database exist and pg_hba.conf "
        + "admits the role with a challenge (never a cleartext password); each namespace, "
        + "deployment and Secret exists and the deployment reads the Secret; kubectl rights; "
        + "Redis SCAN/UNLINK (`lockstep doctor --policy` shows the same checks)"
    )
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

  static func describe(_ generator: SecretGenerator) -> String {
    switch generator {
    case .randomBytes(let count, let encoding): "\(count) random bytes, \(encoding.rawValue)"
    case .password(let length, let alphabet, let required):
      "password of \(length) characters from \(alphabet.count) symbols with \(required.map(\.rawValue).joined(separator: ", "))"
    }
  }
}
