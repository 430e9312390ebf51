/// What a rotation needs of an outside system before it may change anything, as data: a
/// rotation target declares its requirements, `rotate run` checks them (RotationPreflight)
/// and `doctor --policy` renders the same list, so the two cannot disagree. It lives here,
/// below both the Rotation and the Diagnostics modules, so neither imports the other.
public struct PreflightRequirement: Sendable, Hashable {
  /// The system that must grant it: "Vault", "PostgreSQL", "Kubernetes", "Redis", …
  public var system: String
  /// The line's name in `doctor` and in a preflight error: "kubectl can-i patch secrets (ns)".
  public var name: String
  public var need: Need

  public enum Need: Sendable, Hashable {
    /// The KV v2 secret at `path` exists (the live secret).
    case vaultSecret(path: String)
    /// The token holds `rights` on the KV v2 data path of `path` (and `delete` on its
    /// metadata when `metadataDelete`); `role` says what the path is to the policy.
    case vaultRights(role: String, path: String, rights: [String], metadataDelete: Bool)
    /// `kubectl auth can-i VERB RESOURCE` in the namespace (and context).
    case kubectlCanI(verb: String, resource: String, namespace: String, context: String?)
    /// A Redis server reached through the URL in `$urlVariable` allows `commands` on keys
    /// matching `pattern` (nil: the whole database).
    case redisCommands(urlVariable: String, pattern: String?, commands: [String])
    /// Anything else a target checks itself (a role exists, a deployment reads a Secret…):
    /// the sentence says what.
    case described(String)
  }

  public init(system: String, name: String, need: Need) {
    self.system = system
    self.name = name
    self.need = need
  }
}

/// The outcome of checking one requirement: what passed in a few words, or the one
/// sentence saying what is wrong.
public struct PreflightCheck: Sendable, Equatable {
  public var system: String
  public var name: String
  /// What passed, in a few words.
  public var detail: String
  /// The one sentence saying what is wrong, or nil when the check passed.
  public var problem: String?
  /// The policy would rotate Lockstep's own login (reported as its own error).
  public var ownCredential = false

  public init(
    system: String, name: String, detail: String, problem: String?, ownCredential: Bool = false
  ) {
    self.system = system
    self.name = name
    self.detail = detail
    self.problem = problem
    self.ownCredential = ownCredential
  }

  public static func pass(_ system: String, _ name: String, _ detail: String) -> PreflightCheck {
    PreflightCheck(system: system, name: name, detail: detail, problem: nil)
  }

  public static func fail(_ system: String, _ name: String, _ problem: String) -> PreflightCheck {
    PreflightCheck(system: system, name: name, detail: "", problem: problem)
  }
}

/// A rotation policy's requirements as `doctor --policy` takes them: the list (Vault rights,
/// kubectl can-i, Redis commands are rendered from it), and per system the checks only
/// the targets can make (a role exists, a deployment reads its Secret), which are the
/// rotation preflight's own.
public struct PreflightPlan: Sendable {
  public var requirements: [PreflightRequirement]
  /// Per system ("PostgreSQL", "Kubernetes", …): the targets' own checks.
  public var targetChecks: [String: @Sendable () async -> [PreflightCheck]]

  public init(
    requirements: [PreflightRequirement],
    targetChecks: [String: @Sendable () async -> [PreflightCheck]] = [:]
  ) {
    self.requirements = requirements
    self.targetChecks = targetChecks
  }

  /// The requirements of one system.
  public func requirements(of system: String) -> [PreflightRequirement] {
    requirements.filter { $0.system == system }
  }

  /// Whether the policy needs `system` at all.
  public func needs(_ system: String) -> Bool {
    requirements.contains { $0.system == system }
  }
}
