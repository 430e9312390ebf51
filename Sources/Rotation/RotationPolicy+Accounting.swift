import LockstepCore

extension RotationPolicy {
  /// A key of the live secret the rotation leaves as it is, with the reason the evidence
  /// records (`keep:`): an endpoint, an id that is no credential, a value rotated elsewhere.
  public struct KeptKey: Sendable, Equatable {
    public var key: String
    public var reason: String
  }

  /// A key only a person can rotate (at a provider's console): listed by the plan, pending
  /// in the evidence and `rotate status`, completed with `rotate confirm` (`manual:`).
  public struct ManualKey: Sendable, Equatable {
    public var key: String
    /// What the person does, shown in the plan, the notices and `rotate status`.
    public var instructions: String
  }

  /// Parses `keep:` and `manual:` at the top level.
  static func accounting(_ top: PolicyNode.Fields) throws(PolicyError) -> (
    [KeptKey], [ManualKey]
  ) {
    var kept: [KeptKey] = []
    for entry in try top["keep"]?.sequence() ?? [] {
      let fields = try entry.fields(allowed: ["key", "reason"])
      let reasonNode = try fields.required("reason")
      let reason = try reasonNode.string()
      guard Self.isOneLine(reason) else {
        throw reasonNode.fail(
          "a reason is one line of text (1 to 500 bytes): it goes into the evidence")
      }
      kept.append(KeptKey(key: try keyName(try fields.required("key")), reason: reason))
    }
    var manual: [ManualKey] = []
    for entry in try top["manual"]?.sequence() ?? [] {
      let fields = try entry.fields(allowed: ["key", "instructions"])
      let instructions = try fields["instructions"]?.string() ?? ""
      if let node = fields["instructions"], !Self.isOneLine(instructions) {
        throw node.fail("instructions are one line of text (1 to 500 bytes)")
      }
      manual.append(
        ManualKey(key: try keyName(try fields.required("key")), instructions: instructions))
    }
    return (kept, manual)
  }

  static func isOneLine(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.count <= 500
      && text.unicodeScalars.allSatisfy { $0.properties.generalCategory != .control }
  }

  /// Every key the policy accounts for, once: rotated, switched, derived, kept, manual.
  /// A key claimed twice (kept and rotated, manual twice…) is refused.
  func validateAccounting(file: String) throws(PolicyError) {
    var claimed: [String: String] = [:]
    for key in changedKeys { claimed[key] = "rotated or derived" }
    for key in rotate.map(\.key) { claimed[key] = "rotated" }
    for entry in keep {
      if let other = claimed[entry.key] {
        throw PolicyError(file, nil, "keep \(entry.key): the key is also \(other)")
      }
      claimed[entry.key] = "kept"
    }
    for entry in manual {
      if let other = claimed[entry.key] {
        throw PolicyError(file, nil, "manual \(entry.key): the key is also \(other)")
      }
      claimed[entry.key] = "a manual follow-up"
    }
    var hookNames = Set<String>()
    var hookKeys = Set<String>()
    for hook in hooks {
      guard hookNames.insert(hook.name).inserted else {
        throw PolicyError(file, nil, "targets.hooks: two hooks are named \(hook.name)")
      }
      for key in hook.keys {
        guard rotate.contains(where: { $0.key == key }) else {
          throw PolicyError(
            file, nil,
            "targets.hooks \(hook.name): key \(key) is not a rotated key (a hook applies values Lockstep generates)"
          )
        }
        guard hookKeys.insert(key).inserted else {
          throw PolicyError(file, nil, "targets.hooks: key \(key) is given to two hooks")
        }
      }
      for key in hook.contextKeys where changedKeys.contains(key) {
        throw PolicyError(
          file, nil,
          "targets.hooks \(hook.name): context key \(key) changes in the rotation; send it under keys"
        )
      }
    }
  }
}
