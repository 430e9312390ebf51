import LockstepCore

/// Where `env render` reads secrets from. The Vault client conforms in
/// `VaultSecretSource`; tests may use a literal map where no server is the point.
public protocol SecretSource: Sendable {
  /// Every key of the secret at `path` (`MOUNT/PATH`), with its value.
  func read(_ path: String) async throws -> [(name: String, value: SecretBytes)]
}

/// A fixed set of secrets keyed by path, for templates that name several paths in tests and
/// for callers that already hold the values.
public struct StaticSecretSource: SecretSource {
  public let secrets: [String: [(name: String, value: SecretBytes)]]

  public init(_ secrets: [String: [(name: String, value: SecretBytes)]]) {
    self.secrets = secrets
  }

  public func read(_ path: String) async throws -> [(name: String, value: SecretBytes)] {
    guard let secret = secrets[path] else {
      throw UserError("no secret at \(path)", exit: .failure)
    }
    return secret
  }
}
