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
        unless --force; exit 75 when conflicts remain.
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

    @Option(help: "Only paths (below their mount) starting with this.")
    var prefix: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(
      help:
        "FILE is a Raft snapshot backup: replace the whole cluster (with --force: sys/storage/raft/snapshot-force)."
    )
    var snapshot = false

    @Flag(help: "With --snapshot: do not ask for confirmation.")
    var yes = false

    @OptionGroup var vaultLogin: VaultLoginOptions

    func run() async throws {
      if snapshot { return try await runSnapshot() }
      let bytes = try await BackupDestination.read(backup)
      let opened = try await keys.opener().open(bytes)
      let restorer = VaultRestorer(
        vault: try vaultLogin.client(),
        options: .init(dryRun: dryRun, force: force, toMount: toMount, prefix: prefix))
      let report = try await restorer.restore(opened.payload)
      if json {
        try JSONOutput.print(report)
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
