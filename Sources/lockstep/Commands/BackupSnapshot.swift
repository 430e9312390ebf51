import ArgumentParser
import Backup
import Envelope
import Foundation
import LockstepCore
import Vault

extension Lockstep.BackupCommand {
  /// `backup snapshot`: the whole cluster (Raft integrated storage) in one encrypted file.
  struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Back up the whole cluster (Raft snapshot) into an encrypted file in each destination.",
      discussion: """
        Needs integrated storage (storage "raft") and a token allowed to read
        sys/storage/raft/snapshot (policies/vault/lockstep-snapshot.hcl). The file is named
        lockstep-backup-<UTC>.snapshot.lsb; list, verify and prune treat it like a KV backup
        (prune keeps each kind's retention separately). Restore: lockstep restore --snapshot.
        """)

    @OptionGroup var output: BackupWriteOptions

    @OptionGroup var retention: BackupRetentionOptions

    @OptionGroup var vaultLogin: VaultLoginOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
      if output.destinations.isEmpty { throw ValidationError("give at least one --to") }
    }

    func run() async throws {
      let backup = SnapshotBackup(
        recipients: try output.backupRecipients(), signingKey: try output.signingKey(),
        destinations: try output.backupDestinations(),
        writeOptions: retention.writeOptions(now: Date()))
      try backup.recipients.validate()
      let vault = try vaultLogin.client()
      try await vault.loginIfConfigured()
      let result = try await backup.run(vault: vault, now: Date())
      if json {
        try JSONOutput.print(result)
      } else {
        for location in result.locations { Terminal.out(location) }
        FileHandle.standardError.write(
          Data(
            ("backed up a Raft snapshot of \(result.snapshotBytes) bytes (\(result.bytes) encrypted) in \(String(format: "%.2f", result.durationSeconds)) s, \(String(format: "%.2f", result.phases.snapshotSeconds)) s of it fetching the snapshot\n")
              .utf8))
      }
    }
  }
}

extension Lockstep.BackupCommand.Verify {
  /// `verify` of a snapshot backup: signature, integrity, and the snapshot's length and
  /// SHA-256 against its header, without Vault.
  func verifySnapshot(_ bytes: [UInt8]) async throws {
    if restoreTest {
      throw UserError(
        "--restore-test is for KV backups; test a snapshot by restoring it into a scratch cluster (restore --snapshot).",
        exit: .usage)
    }
    let opened = try await SnapshotBackup.open(bytes, opener: try keys.opener())
    let signer = opened.signer.map { KeyFile.encodeSigningPublicKey($0) }
    if json {
      try JSONOutput.print(
        SnapshotReport(header: opened.header, signer: signer, encryptedBytes: opened.encryptedBytes)
      )
    } else {
      Terminal.out(
        "\(backup): OK — Raft snapshot of \(opened.header.snapshotBytes) bytes, created \(opened.header.created) from \(opened.header.vaultAddress) (cluster \(opened.header.cluster.clusterName))"
          + (signer.map { ", signed by \($0)" } ?? ""))
    }
  }
}

struct SnapshotReport: Encodable {
  let kind = "raft-snapshot"
  let header: SnapshotBackup.Header
  let signer: String?
  let encryptedBytes: Int

  enum CodingKeys: String, CodingKey {
    case kind, header, signer
    case encryptedBytes = "encrypted_bytes"
  }
}
