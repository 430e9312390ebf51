import ArgumentParser
import Backup
import Envelope
import Foundation
import LockstepCore
import Vault

#if canImport(Glibc)
  import Glibc
#endif

extension Lockstep.Restore {
  /// `restore --snapshot FILE`: shows what the snapshot is and where it would go, asks
  /// (or takes --yes), then replaces the whole cluster's state with it.
  func runSnapshot() async throws {
    if toMount != nil || prefix != nil || json {
      throw UserError(
        "--to-mount, --prefix and --json are for KV backups; a snapshot restores the whole cluster.",
        exit: .usage)
    }
    let bytes = try await BackupDestination.read(backup)
    let opened = try await SnapshotBackup.open(bytes, opener: try keys.opener())
    let vault = try vaultLogin.client()
    let target = try await vault.clusterIdentity()
    let header = opened.header
    let lines = [
      "snapshot   \(backup)",
      "created    \(header.created)",
      "from       \(header.vaultAddress) (cluster \(header.cluster.clusterName), id \(header.cluster.clusterID), version \(header.cluster.version))",
      "size       \(header.snapshotBytes) bytes, sha256 \(header.snapshotSHA256)",
      "signed by  \(opened.signer.map { KeyFile.encodeSigningPublicKey($0) } ?? "nobody (unsigned)")",
      "into       \(vault.configuration.address) (cluster \(target.clusterName), id \(target.clusterID), version \(target.version))",
    ]
    for line in lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    if dryRun {
      Terminal.out(
        "would replace every secret, key, policy and auth method of \(vault.configuration.address) with the snapshot"
      )
      return
    }
    if !yes {
      guard isatty(STDIN_FILENO) == 1 else {
        throw UserError(
          "Refusing to replace the whole cluster without confirmation: pass --yes when not on a terminal.",
          exit: .usage)
      }
      FileHandle.standardError.write(
        Data(
          "This replaces ALL data of \(vault.configuration.address) with the snapshot. Type 'restore' to go on: "
            .utf8))
      guard readLine()?.trimmingCharacters(in: .whitespaces) == "restore" else {
        throw UserError("Not confirmed; nothing was changed.", exit: .failure)
      }
    }
    do {
      try await vault.restoreRaftSnapshot(opened.snapshot, force: force)
    } catch let error as VaultError {
      if case .server(400, _, let errors) = error,
        errors.contains(where: { $0.contains("unseal keys") || $0.contains("snapshot-force") })
      {
        throw UserError(
          "The snapshot was taken by a cluster with other unseal keys; nothing was changed: rerun with --force to restore it anyway, then unseal with the original cluster's keys.",
          exit: .usage)
      }
      throw error
    }
    Terminal.out("restored \(backup) into \(vault.configuration.address)")
    // A snapshot from another cluster brings that cluster's keyring: OpenBao seals itself
    // (within a moment, so the health check alone would race) and opens again only with
    // the original cluster's unseal keys.
    var sealed = header.cluster.clusterID != target.clusterID
    if !sealed { sealed = (try? await vault.health())?.sealed ?? false }
    if sealed {
      Terminal.warn(
        "the cluster seals itself after this restore: unseal it with the unseal keys of the cluster the snapshot came from (\(header.cluster.clusterName))."
      )
    }
  }
}
