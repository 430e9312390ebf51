import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Backup

/// The shipped cron line, run under `sh` with its paths pointed at a temporary directory,
/// a moto bucket and the test's mount: it signs, and its backups verify and restore with
/// the signer's .pub as the trusted key (issue 10, "round-trips through the shipped
/// templates' command lines"); the systemd unit and the CronJob sign and confirm too.
@Suite(
  "shipped backup templates (binary)",
  .enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
struct BackupTemplateTests {
  @Test func theCronLineSignsAndItsBackupsRestore() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("aura/production", #"{"K":"v"}"#)
    let s3 = try await BackupObjectStoreTests.environment()
    let store = try await BackupObjectStoreTests.bucket(s3)
    let directory = try TemporaryDirectory.make(prefix: "lockstep-template")
    let environmentFile = directory + "/backup.env"
    var lines = ["export VAULT_ADDR=\(fixture.vaultTesting.address)"]
    for (key, value) in s3 { lines.append("export \(key)=\(value)") }
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(
      to: URL(fileURLWithPath: environmentFile))
    let tokenFile = directory + "/vault-token"
    try Data(VaultTesting.rootToken.utf8).write(to: URL(fileURLWithPath: tokenFile))
    let key = directory + "/backup-signing.key"
    let keygen = try ChildProcess.run(
      Repository.lockstepBinary, ["keygen", "--signing", "--out", key], timeout: .seconds(60))
    #expect(keygen.status == 0)

    let crontab = try String(
      contentsOfFile: Repository.root + "/templates/cron/lockstep-backup.crontab",
      encoding: .utf8)
    let entry = try #require(crontab.split(separator: "\n").first { $0.hasPrefix("5 * * * *") })
    var command = String(entry.split(separator: " ", maxSplits: 6)[6])
    for (from, to) in [
      ("/usr/local/bin/lockstep", Repository.lockstepBinary),
      ("/etc/lockstep/backup.env", environmentFile), ("/etc/lockstep/vault-token", tokenFile),
      ("/etc/lockstep/backup-signing.key", key), ("/var/backups/lockstep", directory + "/out"),
      ("s3://aura-backups/vault/", "s3://\(store.bucket)/vault/"),
      ("lockstep1REPLACE_WITH_YOUR_RECIPIENT", fixture.recipientText),
      ("/var/lib/node_exporter/textfile/lockstep_backup.prom", directory + "/m.prom"),
      ("--mount secret", "--mount \(fixture.mount)"),
    ] {
      command = command.replacingOccurrences(of: from, with: to)
    }
    #expect(command.contains("--sign-key") && command.contains("--yes"))
    try FileManager.default.createDirectory(
      atPath: directory + "/out", withIntermediateDirectories: true)
    let run = try ChildProcess.run(
      "/bin/sh", ["-c", command], environment: ["PATH": "/usr/bin:/bin"], timeout: .seconds(120))
    #expect(run.status == 0, "\(run.stderrText)")
    let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/out")
    let file = directory + "/out/" + (try #require(files.first { $0.hasSuffix(".lsb") }))

    let identity = try fixture.identityFile(in: directory)
    var environment = ProcessInfo.processInfo.environment
    environment["VAULT_ADDR"] = fixture.vaultTesting.address
    environment["VAULT_TOKEN"] = VaultTesting.rootToken
    environment["LOCKSTEP_TRUSTED_SIGNERS"] = key + ".pub"
    for url in [file, "s3://\(store.bucket)/vault/" + (file as NSString).lastPathComponent] {
      let verify = try ChildProcess.run(
        Repository.lockstepBinary, ["backup", "verify", url, "--identity", identity],
        environment: environment.merging(s3) { $1 }, timeout: .seconds(60))
      #expect(verify.status == 0, "\(url): \(verify.stderrText)")
      #expect(verify.stdoutText.contains("signed by trusted key"))
    }
    let target = try fixture.vaultTesting.freshMount()
    let restore = try ChildProcess.run(
      Repository.lockstepBinary,
      ["restore", file, "--identity", identity, "--to-mount", target, "--yes"],
      environment: environment, timeout: .seconds(60))
    #expect(restore.status == 0, "\(restore.stderrText)")
    #expect(try fixture.rawData("aura/production", mount: target) == #"{"K":"v"}"#)
  }

  @Test func theSystemdUnitAndTheCronJobSignAndConfirm() throws {
    let unit = try String(
      contentsOfFile: Repository.root + "/templates/systemd/lockstep-backup.service",
      encoding: .utf8)
    let cronJob = try String(
      contentsOfFile: Repository.root + "/templates/k8s/backup-cronjob.yaml", encoding: .utf8)
    for text in [unit, cronJob] {
      let creates = text.components(separatedBy: "backup create").dropFirst()
      #expect(!creates.isEmpty)
      for create in creates { #expect(create.prefix(400).contains("--sign-key")) }
      let prunes = text.components(separatedBy: "backup prune").dropFirst()
      #expect(!prunes.isEmpty)
      for prune in prunes { #expect(prune.prefix(120).contains("--yes")) }
    }
  }
}
