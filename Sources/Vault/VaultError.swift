import Foundation
import HTTP
import LockstepCore

/// What went wrong talking to Vault, as the one sentence a user can act on. Vault's own
/// `errors` strings are quoted (they never contain secret values); request bodies never are.
public enum VaultError: LockstepError, Equatable {
  case noAddress
  case noToken
  case unreadableFile(path: String, reason: String)
  case permissionDenied(path: String, capability: String, errors: [String])
  case badToken(errors: [String])
  case notFound(path: String)
  case versionDeleted(path: String, version: Int)
  case versionDestroyed(path: String, version: Int)
  case sealed(address: String)
  case casMismatch(path: String, expected: Int, errors: [String])
  case casRequired(path: String)
  case casUnsupported(path: String)
  case needsVersion2(path: String)
  case notKV(mount: String, type: String)
  case noMount(path: String)
  /// The token may not look at the mount (Vault's preflight answers 403 whether or not
  /// something is mounted there), so whether it exists is unknown.
  case mountDenied(path: String)
  /// A path that is not a plain Vault path (`..`, an empty segment, a control character…).
  case invalidPath(path: String, reason: String)
  case loginFailed(method: String, errors: [String])
  case invalidResponse(path: String, detail: String)
  /// A secret's data given as JSON text (from a backup) is not one JSON object.
  case invalidSecretData
  case server(status: Int, path: String, errors: [String])
  case unreachable(address: String, cause: HTTPError)

  public var description: String {
    switch self {
    case .noAddress:
      return "No Vault address: set VAULT_ADDR (e.g. https://vault.example.com:8200)."
    case .noToken:
      return "No Vault token: set VAULT_TOKEN, write ~/.vault-token, or log in with AppRole."
    case .unreadableFile(let path, let reason):
      return "Could not read \(path): \(reason)."
    case .permissionDenied(let path, let capability, let errors):
      return "Permission denied: the token may not \(capability) \(path)\(Self.quote(errors))."
    case .badToken(let errors):
      return "Vault refused the token (expired, revoked or mistyped)\(Self.quote(errors))."
    case .notFound(let path):
      return "No secret at \(path)."
    case .versionDeleted(let path, let version):
      return "Version \(version) of \(path) is deleted (undelete can restore it)."
    case .versionDestroyed(let path, let version):
      return "Version \(version) of \(path) is destroyed and cannot be read."
    case .sealed(let address):
      return "Vault at \(address) is sealed: unseal it, then retry."
    case .casMismatch(let path, let expected, _):
      return
        "Check-and-set failed for \(path): it is no longer at version \(expected) (someone else wrote it); nothing was written."
    case .casRequired(let path):
      return "The mount of \(path) requires check-and-set, and no version was given."
    case .casUnsupported(let path):
      return "Check-and-set needs a KV version 2 mount, and \(path) is on KV version 1."
    case .needsVersion2(let path):
      return "\(path) is on a KV version 1 mount, which keeps no versions or metadata."
    case .notKV(let mount, let type):
      return "The mount \(mount) is a \(type) engine, not a KV secrets engine."
    case .noMount(let path):
      return "No secrets engine is mounted at \(path)."
    case .mountDenied(let path):
      return
        "Permission denied: the token has no capability on \(path), so Vault does not say whether a secrets engine is mounted there."
    case .invalidPath(let path, let reason):
      return "'\(VaultPath.printable(path))' is not a valid Vault path: \(reason)."
    case .loginFailed(let method, let errors):
      return "Vault login with \(method) failed\(Self.quote(errors))."
    case .invalidResponse(let path, let detail):
      return "Vault's answer for \(path) could not be understood: \(detail)."
    case .invalidSecretData:
      return "A secret's data is not one JSON object."
    case .server(let status, let path, let errors):
      return "Vault answered \(status) for \(path)\(Self.quote(errors))."
    case .unreachable(let address, let cause):
      if case .responseTooLarge = cause { return "Vault at \(address): \(cause.description)" }
      return "Cannot reach Vault at \(address): \(cause.description)"
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .noAddress, .noToken, .unreadableFile: .usage
    case .permissionDenied, .badToken, .loginFailed, .mountDenied: .noPermission
    case .invalidPath: .dataError
    case .notFound, .versionDeleted, .versionDestroyed, .noMount: .failure
    case .unreachable(_, .responseTooLarge): .dataError
    case .sealed, .unreachable: .unavailable
    case .casMismatch: .temporaryFailure
    case .casRequired, .casUnsupported, .needsVersion2, .notKV: .usage
    case .invalidResponse, .invalidSecretData, .server: .failure
    }
  }

  /// For `invalidPath`: why, as a clause ("is not a valid Vault path: …").
  public var reason: String {
    if case .invalidPath(let path, let reason) = self {
      return "'\(VaultPath.printable(path))' is not a valid Vault path: \(reason)"
    }
    return description
  }

  private static func quote(_ errors: [String]) -> String {
    let shown = errors.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
      .filter { !$0.isEmpty }
    guard !shown.isEmpty else { return "" }
    return " (Vault: \(shown.joined(separator: "; ")))"
  }
}
