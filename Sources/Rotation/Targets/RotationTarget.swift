import LockstepCore
import Synchronization

/// One system a rotation changes or informs: a PostgreSQL role, a Kubernetes deployment, a
/// Redis session store, a log scan… Each target is one file in this folder and one line in
/// `RotationTargets.all`; the orchestrator (`Rotator+*.swift`) knows no target by name.
///
/// A target owns its policy section (`targets.<section>` entries), its preflight
/// requirements (data, rendered by `rotate` and `doctor --policy` alike), the steps it takes
/// part in (`apply`, `verify`, `deploy`, `invalidate`, `finish`; each defaults to nothing)
/// and the evidence of each (value-free: fingerprints only, through `context.fingerprint`).
///
/// Every part must be idempotent: a crash after a part and before the step is recorded
/// runs it again on `resume`, with the same staged values.
public protocol RotationTarget: Sendable {
  /// Its section under `targets:` in a policy (`postgres`, `kubernetes`, …).
  static var section: String { get }
  /// Parses one entry of the section; errors name the file and line (`node.fail`).
  static func parse(_ node: PolicyNode) throws(PolicyError) -> Self

  /// What progress, evidence and errors call it: "postgres role aura".
  var label: String { get }
  /// Cross-checks against the whole policy once every section is parsed (the keys it
  /// names are rotated or derived…). `file` is for `PolicyError`.
  func validate(in policy: RotationPolicy, file: String) throws(PolicyError)
  /// Keys of the live secret this target changes besides `rotate:` and `derive:` (the
  /// role name an alternating rotation switches); staged at `stage` and promoted.
  func changedKeys(in policy: RotationPolicy) -> [String]
  /// Rotated keys (`rotate:` entries) whose new value this target applies to its system:
  /// `rotate plan` calls them "rotated by" its label.
  func appliedKeys(in policy: RotationPolicy) -> [String]
  /// Values of those keys, computed at `stage` from the live secret.
  func stage(_ context: StageContext) throws -> [String: SecretBytes]

  /// What it needs of its system before any change (doctor renders the same list).
  func requirements(in policy: RotationPolicy) -> [PreflightRequirement]
  /// Checks those requirements (and every reference it makes) against the real system.
  /// Checks with the same system and name from several targets are shown once.
  func preflight(_ context: PreflightContext) async -> [PreflightCheck]

  /// Step 3: changes the system to accept the new values (before Vault's live secret).
  func apply(_ context: StepContext) async throws -> [TargetEvidence]
  /// Step 4: proves the new values work (and, where it applies, the old ones do not).
  func verify(_ context: StepContext) async throws -> [TargetEvidence]
  /// Whether a claimed `verify` still holds on resume (else apply and verify are redone).
  func stillVerified(_ context: StepContext) async -> Bool
  /// Step 6: hands the new values to the consumers and waits until they run with them.
  /// Each target's deploy is recorded on its own (`deploy:<id>`), so resume skips the
  /// targets already deployed.
  func deploy(_ context: StepContext) async throws -> [TargetEvidence]
  /// Step 7: revokes what the old values granted (sessions, the old password kept valid
  /// during the rollout).
  func invalidate(_ context: StepContext) async throws -> [TargetEvidence]
  /// Step 8, before staging is destroyed: facts for the evidence (log scans).
  func finish(_ context: StepContext) async throws -> [TargetEvidence]
  /// `rotate abort`: undoes its apply if it can; returns what was undone and what not.
  func undo(_ context: StepContext) async throws -> (undone: [String], notUndone: [String])

  /// The identity used in per-target step markers (`deploy:<id>`).
  var id: String { get }
  /// Lines for `rotate plan`, per step.
  func plan(_ context: PlanContext) -> [PlanLine]
}

extension RotationTarget {
  public func validate(in policy: RotationPolicy, file: String) throws(PolicyError) {}
  public func changedKeys(in policy: RotationPolicy) -> [String] { [] }
  public func appliedKeys(in policy: RotationPolicy) -> [String] { [] }
  public func stage(_ context: StageContext) throws -> [String: SecretBytes] { [:] }
  public func requirements(in policy: RotationPolicy) -> [PreflightRequirement] { [] }
  public func preflight(_ context: PreflightContext) async -> [PreflightCheck] { [] }
  public func apply(_ context: StepContext) async throws -> [TargetEvidence] { [] }
  public func verify(_ context: StepContext) async throws -> [TargetEvidence] { [] }
  public func stillVerified(_ context: StepContext) async -> Bool { true }
  public func deploy(_ context: StepContext) async throws -> [TargetEvidence] { [] }
  public func invalidate(_ context: StepContext) async throws -> [TargetEvidence] { [] }
  public func finish(_ context: StepContext) async throws -> [TargetEvidence] { [] }
  public func undo(_ context: StepContext) async throws -> (undone: [String], notUndone: [String]) {
    ([], [])
  }
  public var id: String { label }
  public func plan(_ context: PlanContext) -> [PlanLine] { [] }
}

/// Every kind of target a policy may name. Adding a target: write its file in this folder,
/// add its type here, document its section in docs/rotation.md. Nothing else.
public enum RotationTargets {
  public static let all: [any RotationTarget.Type] = [
    PostgresRoleTarget.self,
    KubernetesDeploymentTarget.self,
    RedisSessionsTarget.self,
    LogScanTarget.self,
    RedisUserTarget.self,
    HookTarget.self,
  ]

  static var sections: [String] { all.map { $0.section } }

  static func type(for section: String) -> (any RotationTarget.Type)? {
    all.first { $0.section == section }
  }
}

/// A value-free evidence record of one target in one step. Values are typed, so nothing
/// but names, counts, states and fingerprints can be put in.
public struct TargetEvidence: Sendable, Equatable {
  public var target: String
  public var outcome: String
  public var details: [String: EvidenceValue]
  /// The record's step name when it is not the running step's (a log scan is recorded as
  /// `logs`, which `evidence report` reads).
  public var step: String?

  public init(
    target: String, outcome: String = "ok", details: [String: EvidenceValue] = [:],
    step: String? = nil
  ) {
    self.target = target
    self.outcome = outcome
    self.details = details
    self.step = step
  }
}

public indirect enum EvidenceValue: Sendable, Equatable, ExpressibleByStringLiteral,
  ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral
{
  case text(String)
  case number(Int)
  case flag(Bool)
  case list([String])
  case object([String: EvidenceValue])

  public init(stringLiteral value: String) { self = .text(value) }
  public init(integerLiteral value: Int) { self = .number(value) }
  public init(booleanLiteral value: Bool) { self = .flag(value) }

  /// The JSON form the evidence log writes.
  public var json: Any {
    switch self {
    case .text(let text): text
    case .number(let number): number
    case .flag(let flag): flag
    case .list(let list): list
    case .object(let object): object.mapValues(\.json)
    }
  }
}

/// One line of `rotate plan` under a step.
public struct PlanLine: Sendable, Equatable {
  public var step: Rotator.Step
  public var text: String

  public init(_ step: Rotator.Step, _ text: String) {
    self.step = step
    self.text = text
  }
}

/// The clients a rotation may use. Targets take what they need; a new target that needs a
/// client of its own builds it from `environment` (or finds one a test put in `extra`).
public struct RotationServices: Sendable {
  /// Vault (nil in `doctor`, which runs the targets' preflight only).
  public var store: (any SecretStore)?
  public var database: (any DatabaseRoles)?
  public var deployments: (any DeploymentTarget)?
  /// Session stores by the environment variable naming their URL.
  public var sessions: [String: any SessionStore]
  public var environment: [String: String]
  /// Clients of targets added later, by a name the target chooses.
  public var extra: [String: any Sendable]

  public init(
    store: (any SecretStore)? = nil, database: (any DatabaseRoles)? = nil,
    deployments: (any DeploymentTarget)? = nil, sessions: [String: any SessionStore] = [:],
    environment: [String: String] = [:], extra: [String: any Sendable] = [:]
  ) {
    self.store = store
    self.database = database
    self.deployments = deployments
    self.sessions = sessions
    self.environment = environment
    self.extra = extra
  }
}

/// What `stage` gives a target: the live secret and the values generated so far.
public struct StageContext: Sendable {
  public let policy: RotationPolicy
  public let live: VersionedSecret
  public let generated: [String: SecretBytes]
}

/// What preflight gives a target.
public struct PreflightContext: Sendable {
  public let policy: RotationPolicy
  public let services: RotationServices
  /// The live secret, when it was read (nil in doctor, or when it does not exist).
  public let live: VersionedSecret?
  /// Names of requirements someone else checks (doctor renders its Vault, kubectl can-i
  /// and Redis lines itself): a target need not check these again.
  public let checkedElsewhere: Set<String>

  public init(
    policy: RotationPolicy, services: RotationServices, live: VersionedSecret?,
    checkedElsewhere: Set<String> = []
  ) {
    self.policy = policy
    self.services = services
    self.live = live
    self.checkedElsewhere = checkedElsewhere
  }
}

/// What a step gives a target: the staged values, the live secret as this step read it
/// (once, for every target), the clients, and the evidence's fingerprint.
public struct StepContext: Sendable {
  public let policy: RotationPolicy
  public let services: RotationServices
  /// The new values (rotated, switched and derived keys), never logged.
  public let staged: [String: SecretBytes]
  /// The live secret as read at the start of this step (nil where the step reads none).
  public let live: VersionedSecret?
  /// `hmac-sha256:…` of a value, keyed per rotation: the only form a value may take in
  /// evidence.
  public let fingerprint: @Sendable (SecretBytes) -> String
  /// A line of progress under the current step.
  public let progress: @Sendable (String) -> Void
  /// The rotation's id, and which run of it this is: 1 for `rotate run`, n for its
  /// (n-1)th `resume` (counted from the trail), so a target that calls out (a hook) can
  /// say "this may repeat an earlier call".
  public var rotationID = ""
  public var attempt = 1
  /// Shared by the targets of one step: `firstTime(key)` is true once per key (a Secret
  /// shared by two deployments is written once).
  let memo: Memo

  public func firstTime(_ key: String) -> Bool { memo.insert(key) }

  final class Memo: Sendable {
    private let seen = Mutex(Set<String>())
    func insert(_ key: String) -> Bool { seen.withLock { $0.insert(key).inserted } }
  }
}

/// What `rotate plan` gives a target.
public struct PlanContext: Sendable {
  public let policy: RotationPolicy
  /// The live secret, when it was read.
  public let live: VersionedSecret?
}
