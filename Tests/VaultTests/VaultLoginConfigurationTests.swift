import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Vault

/// How the environment configures a login: one complete method or none, secrets by file
/// only, and a login in place of a token.
@Suite("Vault login configuration")
struct VaultLoginConfigurationTests {
  @Test func appRoleAndJWTFromVariables() throws {
    let appRole = try VaultLogin.fromEnvironment([
      "VAULT_ROLE_ID_FILE": "/r", "VAULT_SECRET_ID_FILE": "/s", "VAULT_AUTH_PATH": "/auth/ci/",
    ])
    #expect(
      appRole == VaultLogin(method: .appRole(roleID: .file("/r"), secretIDFile: "/s"), path: "ci"))
    let jwt = try VaultLogin.fromEnvironment(["VAULT_JWT_FILE": "/t", "VAULT_JWT_ROLE": "backup"])
    #expect(jwt?.method == .jwt(role: "backup", tokenFile: "/t"))
    #expect(jwt?.path == "jwt")
    #expect(
      try VaultLogin.fromEnvironment(["VAULT_ROLE_ID": "r", "VAULT_SECRET_ID_FILE": "/s"])?.path
        == "approle")
    #expect(try VaultLogin.fromEnvironment([:]) == nil)
  }

  @Test(arguments: [
    ["VAULT_SECRET_ID": "s3cr3t-value"],
    ["VAULT_JWT": "eyJhbGciOi.eyJzdWIiOi.sig"],
    ["VAULT_ROLE_ID": "r"],
    ["VAULT_JWT_FILE": "/t"],
    [
      "VAULT_ROLE_ID": "r", "VAULT_SECRET_ID_FILE": "/s", "VAULT_JWT_FILE": "/t",
      "VAULT_JWT_ROLE": "x",
    ],
    ["VAULT_AUTH_PATH": "approle"],
  ])
  func incompleteOrUnsafeSettingsAreUsageErrors(_ environment: [String: String]) throws {
    do {
      _ = try VaultLogin.fromEnvironment(environment)
      Issue.record("accepted \(environment.keys.sorted())")
    } catch let error as UserError {
      #expect(error.exitStatus == .usage)
      #expect(!error.description.contains("s3cr3t-value") && !error.description.contains("eyJ"))
    }
  }

  @Test func aLoginIsReadWithTheRestOfTheConfiguration() throws {
    let configuration = try VaultConfiguration.fromEnvironment(
      ["VAULT_ADDR": "http://127.0.0.1:1", "VAULT_JWT_FILE": "/t", "VAULT_JWT_ROLE": "backup"],
      homeDirectory: "/nonexistent")
    #expect(configuration.login?.description == "JWT (role backup) at auth/jwt")
  }

  /// The CronJob logs in with a projected service-account token; no Vault token in it.
  @Test func cronJobTemplateHasNoStaticVaultToken() throws {
    let text = try String(
      contentsOfFile: Repository.root + "/templates/k8s/backup-cronjob.yaml", encoding: .utf8)
    #expect(!text.contains("VAULT_TOKEN"))
    #expect(!text.contains("vault-token"))
    #expect(text.contains("serviceAccountToken:"))
    #expect(text.contains("VAULT_JWT_FILE"))
    #expect(text.contains("automountServiceAccountToken: false"))
  }
}
