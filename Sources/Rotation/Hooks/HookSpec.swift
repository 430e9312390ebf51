import LockstepCore

/// A hook from the policy (`targets.hooks`): an executable that makes a system Lockstep does
/// not speak (an object store's access keys, an SMTP relay, a provider's API token) accept
/// the new values. Lockstep generates the values; the hook only applies them. Schema and
/// contract: docs/rotation.md, "Hooks".
public struct HookSpec: Sendable, Equatable {
  /// A name for the journal and the evidence (`hook minio`).
  public var name: String
  /// The executable: absolute, or relative to Lockstep's working directory. Never looked up
  /// on PATH, so a policy names exactly one file.
  public var executable: String
  /// Fixed arguments from the policy (an alias, an account name); never a value.
  public var arguments: [String]
  /// The rotated keys whose new values the hook applies.
  public var keys: [String]
  /// Keys of the live secret the hook needs to find the account (an access key id), sent
  /// read-only under `context`.
  public var contextKeys: [String]
  /// Whether the document carries the old values too (to revoke them, or to log in with).
  public var sendOld: Bool
  /// Killed (its whole process group) after this long.
  public var timeout: Duration
  /// Names of environment variables passed through; every other variable is dropped.
  public var passEnvironment: [String]

  public init(
    name: String, executable: String, arguments: [String] = [], keys: [String],
    contextKeys: [String] = [], sendOld: Bool = false, timeout: Duration = .seconds(60),
    passEnvironment: [String] = []
  ) {
    self.name = name
    self.executable = executable
    self.arguments = arguments
    self.keys = keys
    self.contextKeys = contextKeys
    self.sendOld = sendOld
    self.timeout = timeout
    self.passEnvironment = passEnvironment
  }

  /// Variables no hook receives even when the policy names them: Lockstep's own
  /// credentials.
  static let withheldEnvironment: Set<String> = [
    "VAULT_TOKEN", "BAO_TOKEN", "PGPASSWORD", "PGPASSFILE", "VAULT_ROLE_ID", "VAULT_SECRET_ID",
  ]
}

extension HookSpec {
  /// Parses one entry of `targets.hooks`.
  static func parse(_ node: PolicyNode) throws(PolicyError) -> HookSpec {
    let fields = try node.fields(allowed: [
      "name", "run", "args", "keys", "context_keys", "send_old", "timeout", "pass_env",
    ])
    let nameNode = try fields.required("name")
    let name = try nameNode.string()
    guard !name.isEmpty, name.utf8.count <= 63,
      name.utf8.allSatisfy({ byte in
        (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D
          || byte == 0x5F
      })
    else { throw nameNode.fail("a hook name is 1 to 63 of a-z, 0-9, - and _") }
    let runNode = try fields.required("run")
    let executable = try runNode.string()
    guard executable.contains("/"), !executable.hasPrefix("-"),
      !executable.utf8.contains(where: { $0 < 0x20 })
    else {
      throw runNode.fail(
        "give the hook's path (absolute, or ./relative to the working directory), not a name looked up on PATH"
      )
    }
    var arguments: [String] = []
    for entry in try fields["args"]?.sequence() ?? [] {
      let argument = try entry.string()
      guard !argument.utf8.contains(where: { $0 < 0x20 }) else {
        throw entry.fail("an argument cannot hold control characters")
      }
      arguments.append(argument)
    }
    var keys: [String] = []
    for entry in try fields.required("keys").sequence() {
      keys.append(try RotationPolicy.keyName(entry))
    }
    guard !keys.isEmpty else { throw node.fail("keys: a hook applies at least one rotated key") }
    var contextKeys: [String] = []
    for entry in try fields["context_keys"]?.sequence() ?? [] {
      contextKeys.append(try RotationPolicy.keyName(entry))
    }
    var passEnvironment: [String] = []
    for entry in try fields["pass_env"]?.sequence() ?? [] {
      let variable = try RotationPolicy.keyName(entry)
      guard !withheldEnvironment.contains(variable) else {
        throw entry.fail("\(variable) is Lockstep's own credential and is never passed to a hook")
      }
      passEnvironment.append(variable)
    }
    let timeoutNode = fields["timeout"]
    let timeout = try timeoutNode?.duration() ?? .seconds(60)
    guard timeout > .zero, timeout <= .seconds(3600) else {
      throw (timeoutNode ?? node).fail("timeout must be more than 0 and at most 1h")
    }
    return HookSpec(
      name: name, executable: executable, arguments: arguments, keys: keys,
      contextKeys: contextKeys, sendOld: try fields["send_old"]?.bool() ?? false,
      timeout: timeout, passEnvironment: passEnvironment)
  }
}
