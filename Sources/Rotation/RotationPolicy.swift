import LockstepCore
import Yams

/// A rotation policy: which Vault secret, which keys to regenerate and how, which keys are
/// derived from them, and which systems must learn the new values. Schema: docs/rotation.md.
public struct RotationPolicy: Sendable {
  public var name: String
  public var vault: VaultPaths
  public var strategy: Strategy
  public var rotate: [RotatedKey]
  public var derive: [DerivedKey]
  /// Every system the rotation changes or informs, in the order of `RotationTargets.all`
  /// (then of the policy): each is one file under `Targets/`.
  public var targets: [any RotationTarget]
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

  /// Every key whose value changes in a rotation: rotated, those targets change (the role
  /// names an alternating rotation switches), then derived (rendered last, so templates see
  /// the new role).
  public var changedKeys: [String] {
    rotate.map(\.key) + targets.flatMap { $0.changedKeys(in: self) } + derive.map(\.key)
  }

  /// The targets of one kind, in policy order.
  public func targets<T: RotationTarget>(_ type: T.Type) -> [T] {
    targets.compactMap { $0 as? T }
  }

  /// Every requirement of every target, each once, in target order.
  public var requirements: [PreflightRequirement] {
    var seen = Set<PreflightRequirement>()
    return targets.flatMap { $0.requirements(in: self) }.filter { seen.insert($0).inserted }
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
      derive: derive, targets: [])
    if let sections = try top["targets"]?.fields(allowed: Set(RotationTargets.sections)) {
      for type in RotationTargets.all {
        for entry in try sections[type.section]?.sequence() ?? [] {
          policy.targets.append(try type.parse(entry))
        }
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
    for target in targets { try target.validate(in: self, file: file) }
    // Alternating means a pair of logins used in turn: some target must switch the key
    // naming the one in use.
    if strategy == .alternating, !targets.contains(where: { !$0.changedKeys(in: self).isEmpty }) {
      throw PolicyError(file, nil, "strategy alternating needs a targets.postgres role pair")
    }
    var seen = Set<String>()
    for key in changedKeys {
      guard seen.insert(key).inserted else {
        throw PolicyError(file, nil, "key \(key) is rotated or derived twice")
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
