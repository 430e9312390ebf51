import ArgumentParser
import Backup
import Crypto
import Envelope
import Foundation

/// Where a new backup goes, who may open it and who signed it: the options `backup create`
/// and `backup snapshot` share, so that both kinds of backup follow one rule (a snapshot is
/// signed from `LOCKSTEP_SIGNING_KEY` exactly like a KV backup, and an unsigned one of
/// either kind is announced the same way).
struct BackupWriteOptions: ParsableArguments {
  @Option(
    name: .customLong("to"),
    help: "A directory, s3://bucket/prefix or gs://bucket/prefix; repeatable.")
  var destinations: [String] = []

  @Option(
    name: .customLong("recipient"), help: "lockstep1… or vault-transit:MOUNT/KEY; repeatable.")
  var recipients: [String] = []

  @Option(help: "A file whose first line is a passphrase that also opens the backup.")
  var passphraseFile: String?

  @Option(
    help:
      "An Ed25519 signing key file to sign the backup with (default $LOCKSTEP_SIGNING_KEY); restore and verify refuse unsigned backups."
  )
  var signKey: String?

  /// The recipients (with the passphrase, if any), checked: at least one that is not Transit.
  func backupRecipients() throws -> BackupRecipients {
    let passphrase = try passphraseFile.map { try KeyFile.readPassphrase(path: $0) }
    return try BackupRecipients(parsing: recipients, passphrase: passphrase)
  }

  func backupDestinations() throws -> [BackupDestination] {
    try destinations.map { try BackupDestination.parse($0) }
  }

  /// The key from `--sign-key`, else from `LOCKSTEP_SIGNING_KEY` (when not empty); with
  /// neither, a warning that the backup will be unsigned, and nil.
  func signingKey(environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> Ed25519KeyPair?
  {
    let fromEnvironment = environment["LOCKSTEP_SIGNING_KEY"].flatMap { $0.isEmpty ? nil : $0 }
    guard let path = signKey ?? fromEnvironment else {
      Terminal.warn(
        "no --sign-key (or LOCKSTEP_SIGNING_KEY): this backup is unsigned, and restore and verify will refuse it without --allow-unsigned."
      )
      return nil
    }
    return try KeyFile.readSigningKey(path: path)
  }
}
