import Crypto
import LockstepCore
import Redis

/// `targets.redis_users`: a Redis ACL user whose password is a rotated key (its URL is then
/// usually derived: `derive: [{key: REDIS_URL, url_password: REDIS_PASSWORD}]`).
///
/// The old password keeps working until the consumers run with the new one:
/// - apply adds the new password by its SHA-256 (`ACL SETUSER user #hex`), beside the old;
/// - verify proves the new password logs in (the old one still does, on purpose);
/// - after deploy has rolled out, invalidate removes every other password of the user
///   (`!hex`), ends the connections still authenticated as the user (`CLIENT KILL USER`,
///   unless `terminate_connections: false`), saves the ACL file when the server has one,
///   and proves the new password logs in and the old one is refused.
/// Passwords never travel in an ACL command; logins use `AUTH`, which Redis redacts in
/// `MONITOR` and the slow log. Lockstep's own connection (`url_env`) must be another user.
public struct RedisUserTarget: RotationTarget, Equatable {
  /// The ACL user whose password is rotated.
  public var user: String
  /// The rotated key whose new value becomes the user's password.
  public var passwordKey: String
  /// The environment variable with the URL of Lockstep's own (administrative) connection.
  public var urlVariable: String
  /// End the user's connections once its old password is removed (a compromise: the
  /// attacker's connection too); consumers reconnect with the new password.
  public var terminateConnections: Bool

  public init(
    user: String, passwordKey: String, urlVariable: String = "REDIS_URL",
    terminateConnections: Bool = true
  ) {
    self.user = user
    self.passwordKey = passwordKey
    self.urlVariable = urlVariable
    self.terminateConnections = terminateConnections
  }

  static let system = "Redis"

  // MARK: policy

  public static let section = "redis_users"

  public static func parse(_ node: PolicyNode) throws(PolicyError) -> RedisUserTarget {
    let fields = try node.fields(allowed: [
      "user", "password_key", "url_env", "terminate_connections",
    ])
    let userNode = try fields.required("user")
    let user = try userNode.string()
    // ACL user names are free text to Redis, but a space or a rule character would make
    // `ACL SETUSER` read the name as a rule.
    guard !user.isEmpty, user.utf8.count <= 128,
      user.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
      let first = user.first, !"<>#!%~&+-@".contains(first)
    else { throw userNode.fail("\"\(user)\" is not a usable Redis ACL user name") }
    return RedisUserTarget(
      user: user,
      passwordKey: try RotationPolicy.keyName(try fields.required("password_key")),
      urlVariable: try fields["url_env"]?.string() ?? "REDIS_URL",
      terminateConnections: try fields["terminate_connections"]?.bool() ?? true)
  }

  public var label: String { "redis user \(user)" }
  public var id: String { "redis-user:\(user)" }
  public func appliedKeys(in policy: RotationPolicy) -> [String] { [passwordKey] }

  public func validate(in policy: RotationPolicy, file: String) throws(PolicyError) {
    guard policy.rotate.contains(where: { $0.key == passwordKey }) else {
      throw PolicyError(
        file, nil,
        "targets.redis_users user \(user): password_key \(passwordKey) is not a rotated key")
    }
    let users = policy.targets(RedisUserTarget.self).filter { $0.user == user }
    guard users.count == 1 else {
      throw PolicyError(file, nil, "targets.redis_users names user \(user) twice")
    }
  }

  /// The previous password, kept in the staging copy (never promoted, destroyed at finish)
  /// so that the refusal can be proven after a crash too.
  var previousKey: String { "LOCKSTEP_PREVIOUS_REDIS_PASSWORD_\(passwordKey)" }

  public func stage(_ context: StageContext) throws -> [String: SecretBytes] {
    guard let previous = previousPassword(live: context.live, policy: context.policy) else {
      return [:]
    }
    return [previousKey: previous]
  }

  /// The live password: `password_key`, else the password in the URL derived from it.
  func previousPassword(live: VersionedSecret, policy: RotationPolicy) -> SecretBytes? {
    if let value = live.values[passwordKey] { return value }
    for derived in policy.derive {
      guard case .urlPassword(let source, _) = derived.template, source == passwordKey,
        let url = live.values[derived.key]?.unsafeUTF8String(),
        let configuration = try? RedisConfiguration(url: url)
      else { continue }
      return configuration.password
    }
    return nil
  }

  static func hash(_ password: SecretBytes) -> RedisPasswordHash {
    // SHA-256 always has 32 bytes.
    try! RedisPasswordHash(digest: SHA256.hash(password))
  }

  // MARK: preflight

  public func requirements(in policy: RotationPolicy) -> [PreflightRequirement] {
    var commands = ["ACL GETUSER", "ACL SETUSER"]
    if terminateConnections { commands.append("CLIENT KILL") }
    return [
      PreflightRequirement(
        system: Self.system, name: "Redis user \(user) (\(urlVariable))",
        need: .described(
          "Redis at $\(urlVariable) lets Lockstep's own user, which is not \(user), run \(commands.joined(separator: ", ")); user \(user) exists and is an ACL user, not the only (default) one"
        ))
    ]
  }

  public func preflight(_ context: PreflightContext) async -> [PreflightCheck] {
    let name = "Redis user \(user) (\(urlVariable))"
    let admin: any RedisUserAdministration
    do {
      admin = try administration(context.services)
    } catch {
      return [.fail(Self.system, name, "Redis: \(error)")]
    }
    do {
      let facts = try await admin.facts(user: user)
      if user == "default" && facts.userNames == ["default"] {
        return [
          .fail(
            Self.system, name,
            "Redis at $\(urlVariable) has no ACL users, only the default user (requirepass): rotating it would lock out every client at once and Lockstep with them; create an ACL user for the application first"
          )
        ]
      }
      if facts.connectedAs == user {
        var check = PreflightCheck.fail(
          Self.system, name,
          "the policy rotates Redis user \(user), the user Lockstep itself connects as ($\(urlVariable)); connect as an administrative user instead"
        )
        check.ownCredential = true
        check.detail = "Redis user \(user)"
        return [check]
      }
      guard facts.userNames != nil else {
        return [
          .fail(
            Self.system, name,
            "Redis user \(facts.connectedAs) may not read the ACL (NOPERM on ACL USERS, ACL GETUSER); grant it +acl"
          )
        ]
      }
      guard let account = facts.account else {
        return [
          .fail(
            Self.system, name,
            "Redis has no ACL user \"\(UntrustedText.escaped(user))\" (a typo? fix the policy; Lockstep does not create users)"
          )
        ]
      }
      guard account.enabled else {
        return [
          .fail(Self.system, name, "Redis user \(user) is off: no password of it can log in")
        ]
      }
      let denied = facts.denied.filter { $0 != "CLIENT KILL" || terminateConnections }
      if !denied.isEmpty {
        return [
          .fail(
            Self.system, name,
            "Redis user \(facts.connectedAs) may not run \(denied.joined(separator: ", ")) (NOPERM); grant +acl\(terminateConnections ? " and +client|kill" : "")"
          )
        ]
      }
      return [
        .pass(
          Self.system, name,
          "exists with \(account.passwordHashes.count) password(s); managed by \(facts.connectedAs)"
        )
      ]
    } catch {
      return [.fail(Self.system, name, "Redis: \(error)")]
    }
  }

  /// The client: one a test put in `services.extra`, else a connection per call to the
  /// URL in `$url_env`.
  func administration(_ services: RotationServices) throws -> any RedisUserAdministration {
    if let given = services.extra["redis-users:\(urlVariable)"] as? any RedisUserAdministration {
      return given
    }
    guard let url = services.environment[urlVariable], !url.isEmpty else {
      throw RedisError.notConfigured(variable: urlVariable)
    }
    return RedisUsers(configuration: try RedisConfiguration(url: url))
  }

  // MARK: apply and verify

  public func apply(_ context: StepContext) async throws -> [TargetEvidence] {
    guard let password = context.staged[passwordKey] else { return [] }
    let admin = try administration(context.services)
    let added = try await admin.addPassword(Self.hash(password), to: user)
    return [
      TargetEvidence(
        target: label,
        details: [
          "password_added": "by SHA-256 hash (ACL SETUSER #)",
          "already_present": .flag(!added),
          "old_password": "kept until the rollout",
          "new_fingerprint": .text(context.fingerprint(password)),
        ])
    ]
  }

  public func verify(_ context: StepContext) async throws -> [TargetEvidence] {
    guard let password = context.staged[passwordKey] else { return [] }
    let admin = try administration(context.services)
    guard try await admin.login(user: user, password: password) == .accepted else {
      throw RotationError.verification("the new password of Redis user \(user) was not accepted")
    }
    var old = "no previous password"
    if let previous = context.staged[previousKey], previous != password {
      old =
        try await admin.login(user: user, password: previous) == .accepted
        ? "accepted until the rollout" : "already refused"
    }
    return [
      TargetEvidence(
        target: label, details: ["new_password": "accepted", "old_password": .text(old)])
    ]
  }

  public func stillVerified(_ context: StepContext) async -> Bool {
    guard let password = context.staged[passwordKey],
      let admin = try? administration(context.services)
    else { return true }
    return (try? await admin.login(user: user, password: password)) == .accepted
  }

  // MARK: invalidate

  /// After the rollout: every password but the new one goes, then the connections they
  /// opened; the new password must log in and the old one must be refused.
  public func invalidate(_ context: StepContext) async throws -> [TargetEvidence] {
    guard let password = context.staged[passwordKey] else { return [] }
    let admin = try administration(context.services)
    let keep = Self.hash(password)
    guard let account = try await admin.user(user), account.passwordHashes.contains(keep) else {
      throw RotationError.verification(
        "Redis user \(user) does not hold the new password any more; nothing was removed")
    }
    let removed = try await admin.removePasswords(of: user, except: keep)
    var details: [String: EvidenceValue] = ["passwords_removed": .number(removed)]
    if terminateConnections {
      details["connections_terminated"] = .number(try await admin.terminateConnections(of: user))
    }
    details["acl_persisted"] = .text(try await admin.persist().rawValue)
    guard try await admin.login(user: user, password: password) == .accepted else {
      throw RotationError.verification(
        "the new password of Redis user \(user) was not accepted after the old one was removed")
    }
    details["new_password"] = "accepted"
    details["old_password"] = "no previous password"
    if let previous = context.staged[previousKey], previous != password {
      guard try await admin.login(user: user, password: previous) == .refused else {
        throw RotationError.verification("the old password of Redis user \(user) still logs in")
      }
      details["old_password"] = "refused"
    }
    guard try await admin.user(user)?.passwordHashes == [keep] else {
      throw RotationError.verification(
        "Redis user \(user) accepts a password besides the new one")
    }
    return [TargetEvidence(target: label, details: details)]
  }

  /// Abort: the new password is removed again while the user still has another one.
  public func undo(_ context: StepContext) async throws -> (undone: [String], notUndone: [String]) {
    guard let password = context.staged[passwordKey] else { return ([], []) }
    let admin = try administration(context.services)
    let hash = Self.hash(password)
    guard let account = try await admin.user(user), account.passwordHashes.contains(hash) else {
      return ([], [])
    }
    guard account.passwordHashes.count > 1 else {
      return ([], ["Redis user \(user) has only the new password left; finish the rotation"])
    }
    try await admin.removePassword(hash, from: user)
    return (["Redis user \(user): the new password was removed again"], [])
  }

  // MARK: plan

  public func plan(_ context: PlanContext) -> [PlanLine] {
    let ending = terminateConnections ? ", CLIENT KILL USER \(user)" : ""
    return [
      PlanLine(.apply, "ACL SETUSER \(user) #<sha256 of \(passwordKey)> (the old password stays)"),
      PlanLine(.verify, "\(user) logs in with the new password"),
      PlanLine(
        .invalidate,
        "after the rollout: ACL SETUSER \(user) !<every other password>\(ending); "
          + "new password logs in, old one is refused"),
    ]
  }
}

extension RotationPolicy {
  /// The Redis ACL user targets, in policy order.
  public var redisUsers: [RedisUserTarget] { targets(RedisUserTarget.self) }
}

// MARK: port

/// What the Redis user target needs of the server. `Adapters/RedisUsers.swift` implements
/// it on hiredis (each call on a thread of its own, hiredis blocks).
public protocol RedisUserAdministration: Sendable {
  /// Lockstep's own user, every ACL user name, and `user` (nil when missing), with the
  /// commands the rotation needs that the server denies Lockstep's user.
  func facts(user: String) async throws -> RedisUserFacts
  func user(_ name: String) async throws -> RedisACLUser?
  /// Returns false when the user already had it.
  func addPassword(_ hash: RedisPasswordHash, to user: String) async throws -> Bool
  func removePassword(_ hash: RedisPasswordHash, from user: String) async throws
  /// Removes every password of `user` but `keep`; returns how many.
  func removePasswords(of user: String, except keep: RedisPasswordHash) async throws -> Int
  func terminateConnections(of user: String) async throws -> Int
  func persist() async throws -> RedisACLPersistence
  func login(user: String, password: SecretBytes) async throws -> RedisLoginOutcome
}

public struct RedisUserFacts: Sendable {
  public var connectedAs: String
  /// nil when Lockstep's user may not list them (no `+acl`).
  public var userNames: [String]?
  public var account: RedisACLUser?
  /// Commands `ACL DRYRUN` says Lockstep's user may not run (empty when it cannot tell).
  public var denied: [String]

  public init(
    connectedAs: String, userNames: [String]?, account: RedisACLUser?, denied: [String]
  ) {
    self.connectedAs = connectedAs
    self.userNames = userNames
    self.account = account
    self.denied = denied
  }
}
