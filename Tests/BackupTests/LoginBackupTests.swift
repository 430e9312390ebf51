import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Backup
@testable import Vault

/// Unattended logins against OpenBao's real AppRole and JWT auth methods: a backup runs
/// with nothing but the login and the `lockstep-backup` policy; a refused login ends in one
/// sentence and exit 77, with no secret in the output.
@Suite(
  "Vault logins for unattended jobs",
  .enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
struct LoginBackupTests {
  /// A fixture's mount with one secret, the backup policy for it, and a directory.
  struct Setup {
    let fixture: BackupFixture
    let policy: String
    let directory: String

    static func make() async throws -> Setup {
      let fixture = try await BackupFixture.make()
      try fixture.put("app/config", #"{"API_KEY":"k-123"}"#)
      let text = try String(
        contentsOfFile: Repository.root + "/policies/vault/lockstep-backup.hcl", encoding: .utf8)
      let policy = VaultTesting.uniqueName("lockstep-backup")
      try fixture.vaultTesting.writePolicy(
        policy, rules: text.replacingOccurrences(of: "\"secret/", with: "\"\(fixture.mount)/"))
      let directory = try TemporaryDirectory.make(prefix: "lockstep-login")
      let keygen = try ChildProcess.run(
        Repository.lockstepBinary, ["keygen", "--signing", "--out", directory + "/signing.key"],
        timeout: .seconds(60))
      guard keygen.succeeded else { throw UserError("keygen: \(keygen.stderrText)") }
      return Setup(fixture: fixture, policy: policy, directory: directory)
    }

    func file(_ name: String, _ contents: String) throws -> String {
      let path = directory + "/" + name
      _ = FileManager.default.createFile(
        atPath: path, contents: Data((contents + "\n").utf8),
        attributes: [.posixPermissions: 0o600])
      return path
    }

    /// `lockstep backup create` with no VAULT_TOKEN and no ~/.vault-token.
    func backup(_ extra: [String], environment more: [String: String] = [:]) throws
      -> ChildProcess.Result
    {
      var environment = ProcessInfo.processInfo.environment
      environment["VAULT_TOKEN"] = nil
      environment["HOME"] = directory
      environment["VAULT_ADDR"] = fixture.vaultTesting.address
      // Backups are signed (an unsigned one warns on stderr, which these tests read).
      environment["LOCKSTEP_SIGNING_KEY"] = directory + "/signing.key"
      environment.merge(more) { $1 }
      return try ChildProcess.run(
        Repository.lockstepBinary,
        [
          "backup", "create", "--mount", fixture.mount, "--to", directory + "/out",
          "--recipient", fixture.recipientText,
        ] + extra, environment: environment, timeout: .seconds(60))
    }
  }

  @Test func appRoleBackupWithOnlyTheBackupPolicy() async throws {
    let setup = try await Setup.make()
    let vault = setup.fixture.vaultTesting
    let mount = VaultTesting.uniqueName("approle")
    try vault.call("POST", "sys/auth/\(mount)", body: #"{"type":"approle"}"#)
    try vault.call(
      "POST", "auth/\(mount)/role/backup",
      body: "{\"token_policies\":[\"\(setup.policy)\"],\"token_ttl\":\"5m\"}")
    let roleID = try #require(
      (try vault.call("GET", "auth/\(mount)/role/backup/role-id")["data"] as? [String: Any])?[
        "role_id"] as? String)
    let secretID = try #require(
      (try vault.call("POST", "auth/\(mount)/role/backup/secret-id", body: "{}")["data"]
        as? [String: Any])?["secret_id"] as? String)
    let roleFile = try setup.file("role-id", roleID)
    let secretFile = try setup.file("secret-id", secretID)

    let byFlags = try setup.backup([
      "--approle-role-id-file", roleFile, "--approle-secret-id-file", secretFile, "--auth-path",
      mount,
    ])
    #expect(byFlags.status == 0, "\(byFlags.stderrText)")
    #expect(byFlags.stderrText.contains("backed up 1 secrets"))

    let byVariables = try setup.backup(
      [],
      environment: [
        "VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID_FILE": secretFile, "VAULT_AUTH_PATH": mount,
      ])
    #expect(byVariables.status == 0, "\(byVariables.stderrText)")

    let wrongSecret = try setup.file("wrong-secret-id", UUID().uuidString.lowercased())
    let refused = try setup.backup([
      "--approle-role-id-file", roleFile, "--approle-secret-id-file", wrongSecret,
      "--auth-path", mount,
    ])
    #expect(refused.status == ExitStatus.noPermission.rawValue)
    #expect(
      refused.stderrText.hasPrefix("lockstep: Vault login with AppRole at auth/\(mount) failed"))
    #expect(refused.stderrText.split(separator: "\n").count == 1)
    #expect(!refused.stderrText.contains(secretID) && !refused.stderrText.contains(roleID))

    // A secret id in the environment is refused before anything is read.
    let inEnvironment = try setup.backup([], environment: ["VAULT_SECRET_ID": secretID])
    #expect(inEnvironment.status == ExitStatus.usage.rawValue)
    #expect(!inEnvironment.stderrText.contains(secretID))
  }

  @Test func jwtBackupWithOnlyTheBackupPolicy() async throws {
    let setup = try await Setup.make()
    let vault = setup.fixture.vaultTesting
    let tool = Repository.root + "/Tests/Support/jwt_tool.py"
    let keys = try TemporaryDirectory.make(prefix: "lockstep-jwt-keys")
    #expect(try ChildProcess.run("python3", [tool, "keygen", keys]).succeeded)
    let forger = try TemporaryDirectory.make(prefix: "lockstep-jwt-forger")
    #expect(try ChildProcess.run("python3", [tool, "keygen", forger]).succeeded)
    let publicKey = try String(contentsOfFile: keys + "/jwt-pub.pem", encoding: .utf8)

    let mount = VaultTesting.uniqueName("jwt")
    try vault.call("POST", "sys/auth/\(mount)", body: #"{"type":"jwt"}"#)
    let config = try JSONSerialization.data(withJSONObject: [
      "jwt_validation_pubkeys": [publicKey], "bound_issuer": "https://kubernetes.default.svc",
    ])
    try vault.call("POST", "auth/\(mount)/config", body: String(decoding: config, as: UTF8.self))
    try vault.call(
      "POST", "auth/\(mount)/role/lockstep-backup",
      body: """
        {"role_type":"jwt","user_claim":"sub","bound_audiences":["openbao"],\
        "bound_subject":"system:serviceaccount:backup:lockstep",\
        "token_policies":["\(setup.policy)"],"token_ttl":"5m"}
        """)
    func token(_ key: String, expiresIn seconds: Int) throws -> String {
      let claims =
        "{\"iss\":\"https://kubernetes.default.svc\",\"sub\":\"system:serviceaccount:backup:lockstep\",\"aud\":[\"openbao\"],\"iat\":-5,\"nbf\":-5,\"exp\":\(seconds)}"
      let signed = try ChildProcess.run("python3", [tool, "sign", key, claims])
      return signed.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    let good = try token(keys + "/jwt-key.pem", expiresIn: 600)
    let goodFile = try setup.file("sa-token", good)

    let byFlags = try setup.backup([
      "--jwt-file", goodFile, "--jwt-role", "lockstep-backup", "--auth-path", mount,
    ])
    #expect(byFlags.status == 0, "\(byFlags.stderrText)")
    let byVariables = try setup.backup(
      [],
      environment: [
        "VAULT_JWT_FILE": goodFile, "VAULT_JWT_ROLE": "lockstep-backup", "VAULT_AUTH_PATH": mount,
      ])
    #expect(byVariables.status == 0, "\(byVariables.stderrText)")

    let expired = try setup.file("expired", try token(keys + "/jwt-key.pem", expiresIn: -120))
    let forged = try setup.file("forged", try token(forger + "/jwt-key.pem", expiresIn: 600))
    for file in [expired, forged] {
      let refused = try setup.backup([
        "--jwt-file", file, "--jwt-role", "lockstep-backup", "--auth-path", mount,
      ])
      #expect(refused.status == ExitStatus.noPermission.rawValue, "\(refused.stderrText)")
      #expect(
        refused.stderrText.hasPrefix(
          "lockstep: Vault login with JWT (role lockstep-backup) at auth/\(mount) failed"))
      #expect(refused.stderrText.split(separator: "\n").count == 1)
      #expect(!refused.stderrText.contains("eyJ"))
    }
    let inEnvironment = try setup.backup([], environment: ["VAULT_JWT": good])
    #expect(inEnvironment.status == ExitStatus.usage.rawValue)
    #expect(!inEnvironment.stderrText.contains(good))
  }

  /// A short-lived token is renewed (renew-self) once two thirds of its TTL have passed,
  /// and replaced by a new login when its max TTL would leave less than half a TTL. The
  /// renewal is timed by the session's own clock, moved ahead by the test, so a loaded
  /// machine cannot decide it; the max-TTL cut is the server's and needs real seconds, and
  /// a longer delay than planned ends in the same new login (the token expired).
  @Test func tokensAreRenewedAndReplacedDuringLongRuns() async throws {
    let setup = try await Setup.make()
    let vault = setup.fixture.vaultTesting
    let mount = VaultTesting.uniqueName("approle")
    try vault.call("POST", "sys/auth/\(mount)", body: #"{"type":"approle"}"#)
    func role(_ name: String, ttl: String, maxTTL: String) throws -> VaultClient {
      try vault.call(
        "POST", "auth/\(mount)/role/\(name)",
        body:
          "{\"token_policies\":[\"\(setup.policy)\"],\"token_ttl\":\"\(ttl)\",\"token_max_ttl\":\"\(maxTTL)\"}"
      )
      let roleID = try #require(
        (try vault.call("GET", "auth/\(mount)/role/\(name)/role-id")["data"] as? [String: Any])?[
          "role_id"] as? String)
      let secretID = try #require(
        (try vault.call("POST", "auth/\(mount)/role/\(name)/secret-id", body: "{}")["data"]
          as? [String: Any])?["secret_id"] as? String)
      var configuration = VaultConfiguration(address: vault.address)
      configuration.login = VaultLogin(
        method: .appRole(
          roleID: .file(try setup.file("\(name)-role", roleID)),
          secretIDFile: try setup.file("\(name)-secret", secretID)), path: mount)
      return VaultClient(configuration: configuration)
    }
    let path = setup.fixture.mount + "/app/config"

    // A 5-minute token whose session clock moves 3 min 30 s ahead: past two thirds
    // (3 min 20 s), 90 s before expiry, so the next request renews it.
    let renewing = try role("renewing", ttl: "5m", maxTTL: "1h")
    _ = try await renewing.read(path)
    #expect(renewing.sessionCounters == (1, 0))
    _ = try await renewing.read(path)
    #expect(renewing.sessionCounters == (1, 0))
    renewing.session.advance(by: .seconds(210))
    _ = try await renewing.read(path)
    #expect(renewing.sessionCounters == (1, 1))
    _ = try await renewing.read(path)
    #expect(renewing.sessionCounters == (1, 1))

    // A 10-second token that is also the max TTL: 7 s later (past two thirds) the server
    // would renew it for the 3 s left, under half a TTL, so the client logs in again.
    let relogging = try role("relogging", ttl: "10s", maxTTL: "10s")
    _ = try await relogging.read(path)
    #expect(relogging.sessionCounters == (1, 0))
    try await Task.sleep(for: .seconds(7))
    _ = try await relogging.read(path)
    #expect(relogging.sessionCounters == (2, 0))
  }
}
