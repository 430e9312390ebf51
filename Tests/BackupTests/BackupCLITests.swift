import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Backup

/// The commands end to end through the built binary: a tampered backup is refused by
/// `backup verify` with exit code 2, an empty prune policy with 64.
@Suite(
  "backup commands (binary)",
  .enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
struct BackupCLITests {
  @Test func tamperedBackupIsRefusedByVerify() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("cli/a", #"{"K":"1"}"#)
    let directory = try TemporaryDirectory.make(prefix: "lockstep-backup-cli")
    let identity = try fixture.identityFile(in: directory)
    var environment = ProcessInfo.processInfo.environment
    environment["VAULT_ADDR"] = fixture.vaultTesting.address
    environment["VAULT_TOKEN"] = VaultTesting.rootToken
    let keygen = try ChildProcess.run(
      Repository.lockstepBinary, ["keygen", "--signing", "--out", directory + "/signing.key"],
      environment: environment, timeout: .seconds(60))
    #expect(keygen.status == 0)
    let created = try ChildProcess.run(
      Repository.lockstepBinary,
      [
        "backup", "create", "--mount", fixture.mount, "--to", directory + "/out", "--recipient",
        fixture.recipientText, "--metrics-file", directory + "/m.prom", "--sign-key",
        directory + "/signing.key",
      ], environment: environment, timeout: .seconds(60))
    #expect(created.status == 0, "\(created.stderrText)")
    let file = created.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    let metrics = try String(contentsOfFile: directory + "/m.prom", encoding: .utf8)
    #expect(metrics.contains("lockstep_backup_success 1"))
    #expect(metrics.contains("lockstep_backup_secrets 1"))

    let good = try ChildProcess.run(
      Repository.lockstepBinary,
      [
        "backup", "verify", file, "--identity", identity, "--verify-key",
        directory + "/signing.key.pub",
      ],
      environment: environment, timeout: .seconds(60))
    #expect(good.status == 0, "\(good.stderrText)")
    #expect(good.stdoutText.contains("signed by trusted key lockstepsig1"))

    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    bytes[bytes.count - 20] ^= 0x01
    let tampered = directory + "/tampered.lsb"
    try Data(bytes).write(to: URL(fileURLWithPath: tampered))
    let bad = try ChildProcess.run(
      Repository.lockstepBinary,
      [
        "backup", "verify", tampered, "--identity", identity, "--verify-key",
        directory + "/signing.key.pub",
      ],
      environment: environment, timeout: .seconds(60))
    #expect(bad.status == ExitStatus.mismatch.rawValue)
    #expect(bad.stderrText.hasPrefix("lockstep: "))
    #expect(bad.stdoutText.isEmpty)

    let prune = try ChildProcess.run(
      Repository.lockstepBinary, ["backup", "prune", directory + "/out"],
      environment: environment, timeout: .seconds(60))
    #expect(prune.status == ExitStatus.usage.rawValue)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/out").count == 1)
  }

  /// Issue 19 and issue 17 item 4 through the binary: create, list and verify against
  /// signature-checking moto at `s3://bucket/vault` (the folder `vault/`); a wrong secret
  /// is one line on stderr with exit 77, without the secret.
  @Test func s3BackupCreateListVerifyAndAWrongSecret() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("cli/s3", #"{"K":"1"}"#)
    let s3 = try await SharedServices.shared.service(.s3)
    let store = try await BackupObjectStoreTests.bucket(s3.s3Environment)
    let directory = try TemporaryDirectory.make(prefix: "lockstep-backup-cli-s3")
    let identity = try fixture.identityFile(in: directory)
    var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
    environment.merge(s3.s3Environment) { $1 }
    environment["HOME"] = directory
    environment["VAULT_ADDR"] = fixture.vaultTesting.address
    environment["VAULT_TOKEN"] = VaultTesting.rootToken
    let url = "s3://\(store.bucket)/vault"
    let signingKey = directory + "/sign.key"
    #expect(
      try ChildProcess.run(
        Repository.lockstepBinary, ["keygen", "--signing", "--out", signingKey],
        timeout: .seconds(60)
      ).succeeded)
    func lockstep(_ arguments: [String], _ environment: [String: String]) throws
      -> ChildProcess.Result
    {
      try ChildProcess.run(
        Repository.lockstepBinary, arguments, environment: environment, timeout: .seconds(60))
    }
    let created = try lockstep(
      [
        "backup", "create", "--mount", fixture.mount, "--to", url, "--recipient",
        fixture.recipientText, "--sign-key", signingKey,
      ], environment)
    #expect(created.status == 0, "\(created.stderrText)")
    let written = created.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(written.hasPrefix(url + "/lockstep-backup-"))
    let listed = try lockstep(["backup", "list", url], environment)
    #expect(listed.status == 0, "\(listed.stderrText)")
    #expect(listed.stdoutText.contains(written))
    let verified = try lockstep(
      ["backup", "verify", written, "--identity", identity, "--verify-key", signingKey + ".pub"],
      environment)
    #expect(verified.status == 0, "\(verified.stderrText)")

    var wrong = environment
    wrong["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-value"
    let refused = try lockstep(["backup", "list", url], wrong)
    #expect(refused.status == ExitStatus.noPermission.rawValue)
    #expect(
      refused.stderrText
        == "lockstep: http://127.0.0.1:\(s3.port) refused the credentials from the environment (AWS_ACCESS_KEY_ID) (SignatureDoesNotMatch).\n"
    )
    #expect(!refused.stderrText.contains("wrong-secret-value"))
  }
}
