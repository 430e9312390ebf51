import LockstepCore
import Redis
import Yams

/// A rotation policy: which Vault secret, which keys to regenerate and how, which keys are
/// derived from them, and which systems must learn the new values. Schema: docs/rotation.md.
public struct RotationPolicy: Sendable, Equatable {
  public var name: String
  public var vault: VaultPaths
  public var strategy: Strategy
  public var rotate: [RotatedKey]
  public var derive: [DerivedKey]
  public var postgres: [PostgresTarget]
  public var kubernetes: [KubernetesTarget]
  public var redis: [RedisTarget]
  public var logs: [LogScan]
  /// Programs that apply rotated values to systems Lockstep does not speak.
  public var hooks: [HookSpec] = []
  /// Keys left as they are, each with the reason the evidence records.
  public var keep: [KeptKey] = []
  /// Keys a person rotates, completed with `rotate confirm`.
  public var manual: [ManualKey] = []

  public struct VaultPaths: Sendable, Equatable {
    /// `mount/path` of the live secret.
    public var secret: String
    /// Where new values wait between generation and promotion.
    public var staging: String
    /// The lock taken with `cas=0` for the length of a rotation.
    public var lock: String
    /// How long a lock is honoured before `rotate run` calls it stale.
    public var lockTTL: Duration
  }

  public enum Strategy: String, Sendable, Equatable {
    /// Immediate revocation: the old password stops working at once (a compromise).
    case single
    /// Two roles used in turn, so the old password works until pods have restarted.
    case alternating
  }

  public struct RotatedKey: Sendable, Equatable {
    public var key: String
    public var generator: SecretGenerator
  }

  public struct DerivedKey: Sendable, Equatable {
    public var key: String
    public var template: ValueTemplate
  }

  public struct PostgresTarget: Sendable, Equatable {
    public var role: String
    /// The rotated key whose new value becomes the role's password.
    public var passwordKey: String
    public var terminateSessions: Bool
    /// Database used to prove the new password logs in (and the old one is refused).
    public var verifyDatabase: String
    /// For `strategy: alternating`: the second role used in turn.
    public var alternateRole: String?
    /// For `strategy: alternating`: the key of the live secret that names the role the
    /// application logs in as; a rotation sets it to the other role of the pair.
    public var userKey: String?
  }

  public struct KubernetesTarget: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable {
      case secret, env
    }
    public var deployment: String
    public var namespace: String
    public var context: String?
    public var mode: Mode
    /// The Secret updated in `secret` mode.
    public var secretName: String?
    /// The container whose env is patched in `env` mode (all containers when nil).
    public var container: String?
    /// The keys this deployment receives.
    public var keys: [String]
    public var rolloutTimeout: Duration
  }

  public struct RedisTarget: Sendable, Equatable {
    /// Environment variable holding the Redis URL (never the URL itself in the policy).
    public var urlVariable: String
    public var pattern: String?
    public var batch: Int
    /// Wipes the whole database; only when the policy says so explicitly.
    public var flushDatabase: Bool
  }

  public struct LogScan: Sendable, Equatable {
    public var path: String
    public var pattern: String
  }

  /// Every key whose value changes in a rotation: rotated, the role names an alternating
  /// rotation switches, then derived (rendered last, so templates see the new role).
  public var changedKeys: [String] {
    rotate.map(\.key) + switchedUserKeys + derive.map(\.key)
  }

  /// The keys naming the login role, which `strategy: alternating` switches each time.
  public var switchedUserKeys: [String] {
    strategy == .alternating ? postgres.compactMap(\.userKey) : []
  }
}

extension RotationPolicy {
  /// Parses and validates a policy; every error names the file and line.
  public static func parse(_ yaml: String, file: String) throws(PolicyError) -> RotationPolicy {
    let root: Node
    do {
      guard let composed = try Yams.compose(yaml: yaml) else {
        throw PolicyError(file, nil, "the policy is empty")
      }
      root = composed
    } catch let error as PolicyError {
      throw error
    } catch let error as YamlError {
      throw PolicyError(file, nil, "not valid YAML: \(Self.describe(error))")
    } catch {
      throw PolicyError(file, nil, "not valid YAML")
    }
    let top = try PolicyNode(node: root, path: "", file: file).fields(allowed: [
      "version", "name", "vault", "strategy", "rotate", "derive", "targets", "keep", "manual",
    ])
    let versionNode = try top.required("version")
    guard try versionNode.int() == 1 else { throw versionNode.fail("only version 1 is known") }

    let vaultFields = try top.required("vault").fields(allowed: [
      "secret", "staging", "lock", "lock_ttl",
    ])
    let secretNode = try vaultFields.required("secret")
    let secret = try secretNode.string()
    guard let (mount, rest) = Self.splitMount(secret) else {
      throw secretNode.fail("expected MOUNT/PATH, like secret/aura/production")
    }
    let vault = VaultPaths(
      secret: secret,
      staging: try vaultFields["staging"]?.string() ?? "\(mount)/lockstep/staging/\(rest)",
      lock: try vaultFields["lock"]?.string() ?? "\(mount)/lockstep/locks/\(rest)",
      lockTTL: try vaultFields["lock_ttl"]?.duration() ?? .seconds(3600))

    var strategy = Strategy.single
    if let node = top["strategy"] {
      let text = try node.string()
      guard let parsed = Strategy(rawValue: text) else {
        throw node.fail("expected single or alternating, not \"\(text)\"")
      }
      strategy = parsed
    }

    var rotate: [RotatedKey] = []
    for entry in try top.required("rotate").sequence() {
      let fields = try entry.fields(allowed: ["key", "generate"])
      let key = try Self.keyName(try fields.required("key"))
      let generatorNode = try fields.required("generate")
      let generator = try Self.generator(generatorNode)
      do { try generator.validate() } catch { throw generatorNode.fail(error.description) }
      rotate.append(RotatedKey(key: key, generator: generator))
    }
    guard !rotate.isEmpty else {
      throw PolicyError(file, top.owner.line, "rotate: no keys to rotate")
    }

    var derive: [DerivedKey] = []
    for entry in try top["derive"]?.sequence() ?? [] {
      let fields = try entry.fields(allowed: ["key", "template", "url_password", "url_user"])
      let key = try Self.keyName(try fields.required("key"))
      let template: ValueTemplate
      switch (fields["template"], fields["url_password"]) {
      case (let node?, nil):
        if let extra = fields["url_user"] { throw extra.fail("url_user goes with url_password") }
        let text = try node.string()
        do { template = try ValueTemplate(parsing: text) } catch {
          throw node.fail(error.description)
        }
      case (nil, let node?):
        template = .urlPassword(
          from: try Self.keyName(node),
          user: try fields["url_user"].map { node throws(PolicyError) in try Self.keyName(node) })
      default:
        throw entry.fail("give exactly one of template or url_password")
      }
      derive.append(DerivedKey(key: key, template: template))
    }

    var policy = RotationPolicy(
      name: try top["name"]?.string() ?? file, vault: vault, strategy: strategy, rotate: rotate,
      derive: derive, postgres: [], kubernetes: [], redis: [], logs: [])
    if let targets = try top["targets"]?.fields(allowed: [
      "postgres", "kubernetes", "redis", "logs", "hooks",
    ]) {
      for entry in try targets["postgres"]?.sequence() ?? [] {
        policy.postgres.append(try Self.postgresTarget(entry))
      }
      for entry in try targets["kubernetes"]?.sequence() ?? [] {
        policy.kubernetes.append(try Self.kubernetesTarget(entry))
      }
      for entry in try targets["redis"]?.sequence() ?? [] {
        policy.redis.append(try Self.redisTarget(entry))
      }
      for entry in try targets["hooks"]?.sequence() ?? [] {
        policy.hooks.append(try HookSpec.parse(entry))
      }
      for entry in try targets["logs"]?.sequence() ?? [] {
        let fields = try entry.fields(allowed: ["path", "pattern"])
        policy.logs.append(
          LogScan(
            path: try fields.required("path").string(),
            pattern: try fields.required("pattern").string()))
      }
    }
    (policy.keep, policy.manual) = try accounting(top)
    try policy.validate(file: file)
    try policy.validateAccounting(file: file)
    return policy
  }

  /// Cross-field checks: every key a target or template names must be rotated or derived
  /// (or, for templates, read from the live secret at run time).
  func validate(file: String) throws(PolicyError) {
    let rotated = Set(rotate.map(\.key))
    if strategy == .alternating {
      guard !postgres.isEmpty else {
        throw PolicyError(file, nil, "strategy alternating needs a targets.postgres role pair")
      }
      for target in postgres {
        guard let alternate = target.alternateRole, let userKey = target.userKey else {
          throw PolicyError(
            file, nil,
            "strategy alternating needs alternate_role and user_key for postgres role \(target.role)"
          )
        }
        guard alternate != target.role else {
          throw PolicyError(
            file, nil, "postgres role \(target.role): alternate_role must be a different role")
        }
        guard !rotated.contains(userKey) && !derive.contains(where: { $0.key == userKey }) else {
          throw PolicyError(
            file, nil,
            "postgres role \(target.role): user_key \(userKey) names the role, so it cannot also be rotated or derived"
          )
        }
      }
    } else if let target = postgres.first(where: { $0.alternateRole != nil || $0.userKey != nil }) {
      throw PolicyError(
        file, nil,
        "postgres role \(target.role): alternate_role and user_key need strategy: alternating")
    }
    var seen = Set<String>()
    for key in changedKeys {
      guard seen.insert(key).inserted else {
        throw PolicyError(file, nil, "key \(key) is rotated or derived twice")
      }
    }
    for target in postgres where !rotated.contains(target.passwordKey) {
      throw PolicyError(
        file, nil,
        "targets.postgres role \(target.role): password_key \(target.passwordKey) is not a rotated key"
      )
    }
    for target in kubernetes {
      for key in target.keys where !seen.contains(key) && !manual.contains(where: { $0.key == key })
      {
        throw PolicyError(
          file, nil,
          "targets.kubernetes \(target.deployment): key \(key) is neither rotated, derived nor a manual follow-up"
        )
      }
    }
    for derived in derive {
      if case .urlPassword(let source, _) = derived.template, !rotated.contains(source) {
        throw PolicyError(
          file, nil, "derive \(derived.key): url_password \(source) is not a rotated key")
      }
    }
  }

  static func splitMount(_ path: String) -> (String, String)? {
    let parts = path.split(separator: "/", maxSplits: 1)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
    return (String(parts[0]), String(parts[1]))
  }

  static func keyName(_ node: PolicyNode) throws(PolicyError) -> String {
    let name = try node.string()
    let valid =
      !name.isEmpty && name.utf8.first.map { !(0x30...0x39).contains($0) } == true
      && name.utf8.allSatisfy { byte in
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
          || byte == 0x5F
      }
    guard valid else { throw node.fail("\"\(name)\" is not a valid key name (letters, digits, _)") }
    return name
  }

  static func generator(_ node: PolicyNode) throws(PolicyError) -> SecretGenerator {
    let fields = try node.fields(allowed: ["bytes", "encoding", "password", "alphabet", "classes"])
    switch (fields["bytes"], fields["password"]) {
    case (let bytes?, nil):
      var encoding = SecretGenerator.ByteEncoding.base64
      if let node = fields["encoding"] {
        let text = try node.string()
        guard let parsed = SecretGenerator.ByteEncoding(rawValue: text) else {
          throw node.fail("expected base64, base64url or hex, not \"\(text)\"")
        }
        encoding = parsed
      }
      return .randomBytes(count: try bytes.int(), encoding: encoding)
    case (nil, let length?):
      let alphabet = try fields["alphabet"].map { node throws(PolicyError) in
        Array(try node.string().utf8)
      }
      var classes: [SecretGenerator.CharacterClass] = [.lower, .upper, .digit]
      if let node = fields["classes"] {
        classes = []
        for entry in try node.sequence() {
          let text = try entry.string()
          guard let parsed = SecretGenerator.CharacterClass(rawValue: text) else {
            throw entry.fail("expected lower, upper, digit or symbol, not \"\(text)\"")
          }
          classes.append(parsed)
        }
      }
      // Classes named explicitly are the whole alphabet (`[lower, upper, digit]` means no
      // symbol at all); without them the URL-safe default adds `-_.~`.
      let fromClasses = fields["classes"] == nil ? nil : classes.flatMap(\.members)
      return .password(
        length: try length.int(),
        alphabet: alphabet ?? fromClasses ?? SecretGenerator.safeAlphabet, required: classes)
    default:
      throw node.fail("give exactly one of bytes or password")
    }
  }

  static func postgresTarget(_ node: PolicyNode) throws(PolicyError) -> PostgresTarget {
    let fields = try node.fields(allowed: [
      "role", "password_key", "terminate_sessions", "verify_database", "alternate_role",
      "user_key",
    ])
    return PostgresTarget(
      role: try fields.required("role").string(),
      passwordKey: try keyName(try fields.required("password_key")),
      terminateSessions: try fields["terminate_sessions"]?.bool() ?? true,
      verifyDatabase: try fields["verify_database"]?.string() ?? "postgres",
      alternateRole: try fields["alternate_role"]?.string(),
      userKey: try fields["user_key"].map { node throws(PolicyError) in try keyName(node) })
  }

  static func kubernetesTarget(_ node: PolicyNode) throws(PolicyError) -> KubernetesTarget {
    let fields = try node.fields(allowed: [
      "deployment", "namespace", "context", "mode", "secret", "container", "keys",
      "rollout_timeout",
    ])
    let modeNode = try fields.required("mode")
    guard let mode = KubernetesTarget.Mode(rawValue: try modeNode.string()) else {
      throw modeNode.fail("expected secret or env")
    }
    let secretName = try fields["secret"]?.kubernetesName(.secret)
    if mode == .secret && secretName == nil { throw node.fail("mode secret needs a secret name") }
    var keys: [String] = []
    for entry in try fields.required("keys").sequence() { keys.append(try keyName(entry)) }
    return KubernetesTarget(
      deployment: try fields.required("deployment").kubernetesName(.deployment),
      namespace: try fields["namespace"]?.kubernetesName(.namespace) ?? "default",
      context: try fields["context"]?.kubernetesName(.context), mode: mode, secretName: secretName,
      container: try fields["container"]?.kubernetesName(.container), keys: keys,
      rolloutTimeout: try fields["rollout_timeout"]?.duration() ?? .seconds(300))
  }

  static func redisTarget(_ node: PolicyNode) throws(PolicyError) -> RedisTarget {
    let fields = try node.fields(allowed: ["url_env", "pattern", "batch", "flush_database"])
    let target = RedisTarget(
      urlVariable: try fields["url_env"]?.string() ?? "REDIS_URL",
      pattern: try fields["pattern"]?.string(),
      batch: try fields["batch"]?.int() ?? 1000,
      flushDatabase: try fields["flush_database"]?.bool() ?? false)
    guard (target.pattern != nil) != target.flushDatabase else {
      throw node.fail(
        "give a key pattern, or flush_database: true (which wipes every key), not both")
    }
    guard (1...100_000).contains(target.batch) else { throw node.fail("batch must be 1 to 100000") }
    // Refused at load, before any change, not at the invalidate step after the promote.
    if let pattern = target.pattern {
      do { try SessionPattern.check(pattern) } catch { throw node.fail(error.description) }
    }
    return target
  }

  static func describe(_ error: YamlError) -> String {
    switch error {
    case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
      .composer(_, let problem, let mark, _):
      return "line \(mark.line): \(problem)"
    default:
      return "\(error)"
    }
  }
}
