import ArgumentParser
import LockstepCore
import Vault

/// Logins for unattended jobs, as flags; the same settings come from `VAULT_ROLE_ID_FILE`
/// (or `VAULT_ROLE_ID`), `VAULT_SECRET_ID_FILE`, `VAULT_JWT_FILE`, `VAULT_JWT_ROLE` and
/// `VAULT_AUTH_PATH` for every command (docs/vault.md). Secrets are named by file only.
struct VaultLoginOptions: ParsableArguments {
  @Option(help: "A file holding the AppRole role id (or VAULT_ROLE_ID_FILE).")
  var approleRoleIdFile: String?

  @Option(help: "A file holding the AppRole secret id (or VAULT_SECRET_ID_FILE).")
  var approleSecretIdFile: String?

  @Option(help: "A file holding a JWT, e.g. a projected service-account token (or VAULT_JWT_FILE).")
  var jwtFile: String?

  @Option(help: "The JWT auth role to log in as (or VAULT_JWT_ROLE).")
  var jwtRole: String?

  @Option(help: "The auth method's path below auth/ (default approle or jwt; or VAULT_AUTH_PATH).")
  var authPath: String?

  /// A client from `VAULT_*` variables, with the login these flags give, if any.
  func client() throws -> VaultClient {
    var configuration = try VaultConfiguration.fromEnvironment()
    let fromFlags = try VaultLogin.make(
      roleID: approleRoleIdFile.map(VaultLogin.RoleID.file), secretIDFile: approleSecretIdFile,
      jwtFile: jwtFile, jwtRole: jwtRole, path: nil, origin: "flags")
    if let fromFlags {
      configuration.login = VaultLogin(method: fromFlags.method, path: authPath)
    } else if let authPath {
      guard let login = configuration.login else {
        throw UserError(
          "--auth-path is set but no AppRole or JWT login is configured.", exit: .usage)
      }
      configuration.login = VaultLogin(method: login.method, path: authPath)
    }
    return VaultClient(configuration: configuration)
  }
}
