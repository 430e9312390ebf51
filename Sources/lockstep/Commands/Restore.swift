import ArgumentParser
import Backup
import Foundation
import LockstepCore
import Vault

extension Lockstep {
  /// Writes a backup back into Vault with check-and-set (docs/backup.md).
  struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Restore a backup into Vault without clobbering newer live secrets.",
      discussion: """
        Needs VAULT_ADDR/VAULT_TOKEN (policy: policies/vault/lockstep-restore.hcl).
        --dry-run prints the paths that would be added, changed or left alone (no values).
        A path whose live version is newer than the backup's is a conflict, left alone
        unless --force; exit 75 when conflicts remain. The backup must be signed by a
        trusted signer (--verify-key, --trusted-signers, LOCKSTEP_TRUSTED_SIGNERS) unless
        --allow-unsigned. --to-mount must already exist (restore does not create mounts).
        Asks on a terminal; --yes otherwise.
        """)

    @Argument(help: "A backup file or s3://…/gs://… object URL.")
    var backup: String

    @OptionGroup var keys: BackupKeyOptions

    @Flag(help: "Show what would change; write nothing.")
    var dryRun = false

    @Flag(help: "Overwrite live secrets that are newer than the backup.")
    var force = false

    @Option(help: "Restore into this mount instead of the one backed up.")
    var toMount: String?

    @Option(
      help:
        "Only this path and the paths below it (whole segments: svc/s1 is not svc/s10), below the mount."
    )
    var prefix: String?

    @Flag(help: "Write without asking (needed when not on a terminal), also with --snapshot.")
    var yes = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(
      help:
        "FILE is a Raft snapshot backup: replace the whole cluster (with --force: sys/storage/raft/snapshot-force)."
    )
    var snapshot = false

    @OptionGroup var vaultLogin: VaultLoginOptions

    func run() async throws {
      if snapshot { return try await runSnapshot() }
      let bytes = try await BackupDestination.read(backup)
      let opened = try await keys.opener().open(bytes)
      if !dryRun {
        try Confirmation.require(
          "Write this backup's secrets into Vault"
            + (force ? " (--force: newer live secrets are overwritten)?" : "?"),
          word: "restore", yes: yes, flagHint: "restore")
      }
      let restorer = VaultRestorer(
        vault: try vaultLogin.client(),
        options: .init(dryRun: dryRun, force: force, toMount: toMount, prefix: prefix))
      let report = try await restorer.restore(opened.payload)
      if opened.authenticity != .trustedSigner {
        Terminal.warn(
          "restored from a backup whose authorship was NOT verified (--allow-unsigned).")
      }
      if json {
        try JSONOutput.print(RestoreOutput(report: report, authenticity: opened.authenticity))
      } else {
        let verb = dryRun ? "would " : ""
        for path in report.added { Terminal.out("\(verb)add        \(path)") }
        for path in report.changed { Terminal.out("\(verb)change     \(path)") }
        for path in report.unchanged { Terminal.out("unchanged  \(path)") }
        for path in report.conflicts {
          Terminal.out("conflict   \(path) (live is newer; --force to overwrite)")
        }
      }
      if !report.conflicts.isEmpty {
        Terminal.error(
          "\(report.conflicts.count) path(s) have newer live versions and were left alone; rerun with --force to overwrite them."
        )
        throw ExitCode(ExitStatus.temporaryFailure.rawValue)
      }
    }
  }
}

/// The restore report with how the backup's authorship was established.
struct RestoreOutput: Encodable {
  let report: VaultRestorer.Report
  let authenticity: SignerTrust.Outcome

  func encode(to encoder: any Encoder) throws {
    try report.encode(to: encoder)
    var container = encoder.container(keyedBy: Key.self)
    try container.encode(authenticity, forKey: .authenticity)
  }

  enum Key: String, CodingKey { case authenticity }
}
