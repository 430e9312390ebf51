import Foundation
import LockstepCore

/// How an unattended job gets its Vault token without a long-lived one on disk: AppRole or
/// JWT (e.g. a projected Kubernetes service-account token). The secret parts (secret id,
/// JWT) are named by file only, and read at each login, so a token file that the kubelet
/// rotates is picked up on the next login; nothing secret is taken from argv or the
/// environment.
public struct VaultLogin: Sendable, Equatable, CustomStringConvertible {
  public enum Method: Sendable, Equatable {
    /// `role_id` from a file or given as text (a role id is an identifier, not a secret, but
    /// a file keeps it out of `ps` too); `secret_id` from a file.
    case appRole(roleID: RoleID, secretIDFile: String)
    /// `auth/<path>/login` with `role` and the JWT read from `tokenFile`.
    case jwt(role: String, tokenFile: String)
  }

  public enum RoleID: Sendable, Equatable {
    case file(String)
    case value(String)
  }

  public var method: Method
  /// The auth method's mount path below `auth/` (default `approle` or `jwt`).
  public var path: String

  public init(method: Method, path: String? = nil) {
    self.method = method
    let trimmed = path?.split(separator: "/").joined(separator: "/") ?? ""
    if !trimmed.isEmpty {
      self.path = trimmed.hasPrefix("auth/") ? String(trimmed.dropFirst(5)) : trimmed
    } else {
      switch method {
      case .appRole: self.path = "approle"
      case .jwt: self.path = "jwt"
      }
    }
  }

  /// "AppRole at auth/approle", for sentences.
  public var description: String {
    switch method {
    case .appRole: "AppRole at auth/\(path)"
    case .jwt(let role, _): "JWT (role \(role)) at auth/\(path)"
    }
  }

  /// The login the environment asks for, or nil:
  /// - AppRole: `VAULT_ROLE_ID_FILE` (or `VAULT_ROLE_ID`) and `VAULT_SECRET_ID_FILE`;
  /// - JWT: `VAULT_JWT_FILE` and `VAULT_JWT_ROLE`;
  /// - `VAULT_AUTH_PATH`: the mount below `auth/` for either.
  /// `VAULT_SECRET_ID` and `VAULT_JWT` are refused: a secret in the environment is readable
  /// by every child and lands in crash reports; put it in a file.
  public static func fromEnvironment(_ environment: [String: String]) throws -> VaultLogin? {
    func value(_ name: String) -> String? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      return text
    }
    for name in ["VAULT_SECRET_ID", "VAULT_JWT"] where value(name) != nil {
      throw UserError(
        "\(name) is not read (a secret in the environment leaks to every child process): write it to a file and set \(name)_FILE.",
        exit: .usage)
    }
    let path = value("VAULT_AUTH_PATH")
    let roleID =
      value("VAULT_ROLE_ID_FILE").map(RoleID.file) ?? value("VAULT_ROLE_ID").map(RoleID.value)
    let secretIDFile = value("VAULT_SECRET_ID_FILE")
    let jwtFile = value("VAULT_JWT_FILE")
    return try make(
      roleID: roleID, secretIDFile: secretIDFile, jwtFile: jwtFile,
      jwtRole: value("VAULT_JWT_ROLE"),
      path: path, origin: "variables")
  }

  /// Checks that one complete method is given (flags or variables), or none.
  public static func make(
    roleID: RoleID?, secretIDFile: String?, jwtFile: String?, jwtRole: String?, path: String?,
    origin: String
  ) throws -> VaultLogin? {
    let appRole = roleID != nil || secretIDFile != nil
    let jwt = jwtFile != nil || jwtRole != nil
    if appRole && jwt {
      throw UserError(
        "Both an AppRole and a JWT login are configured by \(origin): choose one.", exit: .usage)
    }
    if appRole {
      guard let roleID, let secretIDFile else {
        throw UserError(
          "An AppRole login needs both a role id and a secret id file.", exit: .usage)
      }
      return VaultLogin(method: .appRole(roleID: roleID, secretIDFile: secretIDFile), path: path)
    }
    if jwt {
      guard let jwtFile, let jwtRole else {
        throw UserError(
          "A JWT login needs both a token file and a role name.", exit: .usage)
      }
      return VaultLogin(method: .jwt(role: jwtRole, tokenFile: jwtFile), path: path)
    }
    if path != nil {
      throw UserError(
        "An auth path is set but no AppRole or JWT login is configured.", exit: .usage)
    }
    return nil
  }
}
