import ArgumentParser
import Backup
import Envelope
import Foundation
import LockstepCore
import ObjectStore
import Vault

extension Lockstep {
  /// Encrypted Vault backups: create, verify, list, prune, rewrap (docs/backup.md).
  struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "backup",
      abstract: "Encrypted, verifiable Vault KV backups to directories, S3 and GCS.",
      discussion: "Procedures and the payload format: docs/backup.md. Exit codes: docs/cli.md.",
      subcommands: [
        Create.self, Snapshot.self, Verify.self, List.self, Prune.self, Rewrap.self,
      ])
  }
}

/// How a command opens a backup: identity files, a passphrase file, the trusted signers.
struct BackupKeyOptions: ParsableArguments {
  @Option(
    name: .customLong("identity"), help: "An identity file from `lockstep keygen`; repeatable.")
  var identities: [String] = []

  @Option(help: "A file whose first line is the backup passphrase.")
  var passphraseFile: String?

  @Option(
    name: .customLong("verify-key"),
    help: "A trusted signer (lockstepsig1… or a .pub/key file); repeatable.")
  var verifyKeys: [String] = []

  @Option(
    help:
      "A file of trusted signers, one lockstepsig1… a line (# comments); default $LOCKSTEP_TRUSTED_SIGNERS."
  )
  var trustedSigners: String?

  @Flag(
    help:
      "Accept a backup that is unsigned or signed by an unknown key (anyone with the recipient key can forge one); recorded in the output."
  )
  var allowUnsigned = false

  @Option(
    help:
      "Also try the Vault Transit key MOUNT/KEY through VAULT_ADDR (only stanzas of this key are sent to Vault)."
  )
  var transit: String?

  func validate() throws {
    if identities.isEmpty && passphraseFile == nil && transit == nil {
      throw ValidationError("give an --identity file, a --passphrase-file or --transit MOUNT/KEY")
    }
  }

  /// `--verify-key`s, then `--trusted-signers` or `LOCKSTEP_TRUSTED_SIGNERS` (a file path,
  /// or lockstepsig1… keys separated by spaces or commas).
  func trust(environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> SignerTrust
  {
    var keys = try verifyKeys.map { try KeyFile.readSigningPublicKey($0) }
    if let trustedSigners {
      keys += try KeyFile.readTrustedSigners(path: trustedSigners)
    } else if let variable = environment["LOCKSTEP_TRUSTED_SIGNERS"], !variable.isEmpty {
      if variable.hasPrefix("lockstepsig1") {
        keys += try variable.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" })
          .map { try KeyFile.parseSigningPublicKey(String($0)) }
      } else {
        keys += try KeyFile.readTrustedSigners(path: variable)
      }
    }
    return SignerTrust(trusted: keys, allowUnsigned: allowUnsigned)
  }

  func opener() throws -> BackupOpener {
    var list: [Identity] = try identities.flatMap { try KeyFile.readIdentities(path: $0) }.map {
      .x25519($0)
    }
    if let passphraseFile {
      list.append(.passphrase(try KeyFile.readPassphrase(path: passphraseFile)))
    }
    let trust = try trust()
    if trust.allowUnsigned {
      Terminal.warn(
        "--allow-unsigned: this backup's authorship is NOT checked; anyone holding the public recipient key could have made it."
      )
    }
    return BackupOpener(
      identities: list, trust: trust,
      transitVault: transit != nil ? try VaultClient.fromEnvironment() : nil, transitKey: transit)
  }
}

extension Lockstep.BackupCommand {
  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Back up KV secrets into an encrypted file in each destination.",
      discussion: """
        Reads VAULT_ADDR/VAULT_TOKEN (policy: policies/vault/lockstep-backup.hcl), S3 from
        AWS_* variables, GCS from GOOGLE_OAUTH_ACCESS_TOKEN or STORAGE_EMULATOR_HOST.
        A backup appears under its final name only when complete (and, remotely, read back).
        """)

    @Option(name: .customLong("mount"), help: "A KV mount to back up; repeatable.")
    var mounts: [String] = []

    @Option(help: "Only paths below this folder of each mount (e.g. aura/).")
    var prefix: String = ""

    @OptionGroup var output: BackupWriteOptions

    @Flag(help: "Every KV v2 version with its metadata, including deleted and destroyed ones.")
    var allVersions = false

    @OptionGroup var retention: BackupRetentionOptions

    @Option(help: "Write a Prometheus textfile here (for node_exporter's textfile collector).")
    var metricsFile: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var vaultLogin: VaultLoginOptions

    func validate() throws {
      if mounts.isEmpty { throw ValidationError("give at least one --mount") }
      if output.destinations.isEmpty { throw ValidationError("give at least one --to") }
    }

    func run() async throws {
      let started = Date()
      do {
        let signingKey = try output.signingKey()
        let creator = BackupCreator(
          scope: .init(mounts: mounts, prefix: prefix, allVersions: allVersions),
          recipients: try output.backupRecipients(), signingKey: signingKey,
          destinations: try output.backupDestinations(),
          writeOptions: retention.writeOptions(now: started))
        try creator.recipients.validate()
        let result = try await creator.run(vault: try vaultLogin.client(), now: started)
        if let metricsFile {
          // The backup is made: an unwritable metrics file must not fail it (and make a
          // template skip its prune), so it is a warning.
          do {
            try BackupMetrics.writeSuccess(result, at: Date(), to: metricsFile)
          } catch {
            Terminal.warn(
              "the backup succeeded but the metrics file \(metricsFile) could not be written: \((error as? any LockstepError)?.description ?? "\(type(of: error))")"
            )
          }
        }
        if json {
          try JSONOutput.print(result)
        } else {
          for location in result.locations { Terminal.out(location) }
          FileHandle.standardError.write(
            Data(
              ("backed up \(result.paths) secrets (\(result.versions) versions, \(result.bytes) bytes) in \(String(format: "%.2f", result.durationSeconds)) s\n")
                .utf8))
        }
      } catch {
        if let metricsFile { try? BackupMetrics.writeFailure(at: Date(), to: metricsFile) }
        throw error
      }
    }
  }

  struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check a backup's authenticity, integrity and manifest (no Vault needed).",
      discussion: """
        Exit 0 when it checks out; 2 when altered, truncated or the manifest disagrees; 77
        when no key opens it; 65 when it is not a backup. --restore-test also restores it into
        a temporary mount (needs VAULT_ADDR/VAULT_TOKEN with lockstep-restore-test.hcl's
        rights), compares every secret and removes the mount.
        """)

    @Argument(help: "A backup file or s3://…/gs://… object URL.")
    var backup: String

    @OptionGroup var keys: BackupKeyOptions

    @Flag(help: "Restore into a temporary mount, compare secret by secret, remove it.")
    var restoreTest = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
      let bytes = try await BackupDestination.read(backup)
      if BackupName.kind(of: backup) == "raft-snapshot" { return try await verifySnapshot(bytes) }
      var (report, payload) = try await BackupVerifier(opener: try keys.opener()).verify(bytes)
      if restoreTest {
        report.restoreTest = try await BackupVerifier.restoreTest(
          payload, vault: try VaultClient.fromEnvironment())
      }
      if json {
        try JSONOutput.print(report)
      } else {
        let authorship =
          report.authenticity == .trustedSigner
          ? report.signer.map { ", signed by trusted key \($0)" } ?? ""
          : ", AUTHORSHIP NOT VERIFIED (--allow-unsigned)"
        Terminal.out(
          "\(backup): OK — \(report.paths) secrets, \(report.versions) versions, created \(report.created) from \(report.vaultAddress)"
            + authorship)
        if let test = report.restoreTest {
          Terminal.out(
            "restore test: \(test.compared) compared in \(test.mounts.joined(separator: ", ")), \(test.mismatches.count) mismatches, mount removed"
          )
        }
      }
      if let test = report.restoreTest, !test.mismatches.isEmpty {
        for path in test.mismatches { Terminal.error("restored differently: \(path)") }
        throw ExitCode(ExitStatus.mismatch.rawValue)
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the backups in a destination, newest first.")

    @Argument(help: "A directory, s3://bucket/prefix or gs://bucket/prefix.")
    var destination: String

    @Flag(help: "Print the list as JSON.")
    var json = false

    func run() async throws {
      let entries = try await BackupDestination.parse(destination).list()
      if json {
        try JSONOutput.print(entries.map(BackupListing.init))
      } else {
        for entry in entries {
          Terminal.out("\(BackupName.iso8601(entry.date))  \(entry.size)  \(entry.location)")
        }
      }
    }
  }

  struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Delete backups a retention policy does not keep (restic's --keep-* semantics).",
      discussion: "An empty policy is refused. With --dry-run nothing is deleted.")

    @Argument(help: "A directory, s3://bucket/prefix or gs://bucket/prefix.")
    var destination: String

    @Option(help: "Keep the N newest backups.") var keepLast = 0
    @Option(help: "Keep the newest backup of each of the last N hours.") var keepHourly = 0
    @Option(help: "Keep the newest backup of each of the last N days.") var keepDaily = 0
    @Option(help: "Keep the newest backup of each of the last N weeks.") var keepWeekly = 0
    @Option(help: "Keep the newest backup of each of the last N months.") var keepMonthly = 0

    @Flag(help: "Show what would be deleted; delete nothing.")
    var dryRun = false

    @Flag(help: "Delete without asking (needed when not on a terminal).")
    var yes = false

    @Flag(
      help:
        "Read each backup's envelope header first; files without a valid one are neither counted nor removed."
    )
    var verifyHeaders = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
      let policy = RetentionPolicy(
        last: keepLast, hourly: keepHourly, daily: keepDaily, weekly: keepWeekly,
        monthly: keepMonthly)
      if policy.isEmpty { throw BackupError.emptyRetentionPolicy }
      let target = try BackupDestination.parse(destination)
      var (entries, unparseable) = try await target.listing()
      var invalid: [BackupDestination.Entry] = []
      if verifyHeaders {
        (entries, invalid) = try await BackupDestination.checkHeaders(entries)
      }
      let plan = try policy.planPerKind(entries)
      let (keep, remove) = (plan.keep, plan.remove)
      if !plan.future.isEmpty {
        Terminal.warn(
          "ignoring \(plan.future.count) backup name(s) dated more than \(Int(RetentionPolicy.clockSkewAllowance / 60)) minutes in the future (not counted, not removed): \(plan.future.prefix(3).map(\.name).joined(separator: ", "))\(plan.future.count > 3 ? ", …" : "")"
        )
      }
      if !unparseable.isEmpty {
        Terminal.warn(
          "ignoring \(unparseable.count) name(s) that look like backups but are not lockstep-backup-YYYYMMDDTHHMMSSZ[-N].lsb (not counted, not removed)"
        )
      }
      if !invalid.isEmpty {
        Terminal.warn(
          "ignoring \(invalid.count) file(s) without a valid envelope header (not counted, not removed): \(invalid.prefix(3).map(\.name).joined(separator: ", "))"
        )
      }
      var retained: [PruneListing.Retained] = []
      if !dryRun && !remove.isEmpty {
        try Confirmation.require(
          "Delete \(remove.count) backup(s) from \(destination)?", word: "delete", yes: yes,
          flagHint: "delete backups")
        for entry in remove {
          if case .retained(let until) = try await target.deleteUnlessRetained(entry) {
            retained.append(PruneListing.Retained(entry, until: until))
          }
        }
      }
      if json {
        try JSONOutput.print(
          PruneListing(
            kept: keep.map(\.location),
            removed: remove.map(\.location).filter { location in
              !retained.contains { $0.location == location }
            },
            ignored: (plan.future + invalid).map(\.location), retained: retained, dryRun: dryRun))
      } else {
        for entry in keep { Terminal.out("keep    \(entry.location)") }
        for entry in remove where !retained.contains(where: { $0.location == entry.location }) {
          Terminal.out((dryRun ? "would remove " : "remove  ") + entry.location)
        }
        for entry in retained {
          Terminal.out(
            "retain  \(entry.location) (under Object Lock"
              + (entry.until.map { " until \($0); prune deletes it from then on)" } ?? ")"))
        }
      }
    }
  }

  struct Rewrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Change who can open a backup without re-encrypting its payload.",
      discussion: """
        --add-recipient and --new-passphrase-file add; --remove-recipient and \
        --remove-passphrase remove (removals first, so one run can swap a key); --recipient \
        replaces the whole set. Removing an X25519 recipient needs format-version-2 \
        stanzas, or an --identity that opens the stanza (exit 65 otherwise: use \
        --recipient). The result is written atomically; the payload bytes are unchanged.
        """)

    @Argument(help: "A backup file or s3://…/gs://… object URL (replaced in place).")
    var backup: String

    @OptionGroup var keys: BackupKeyOptions

    @Option(name: .customLong("add-recipient"), help: "A lockstep1… recipient to add; repeatable.")
    var added: [String] = []

    @Option(
      name: .customLong("remove-recipient"),
      help: "A lockstep1… or vault-transit:MOUNT/KEY recipient to remove; repeatable.")
    var removed: [String] = []

    @Flag(help: "Remove every passphrase stanza.")
    var removePassphrase = false

    @Option(name: .customLong("recipient"), help: "The complete new recipient set; repeatable.")
    var replacement: [String] = []

    @Option(help: "A file whose first line is a passphrase that also opens the result.")
    var newPassphraseFile: String?

    @Flag(help: "Remove recipients without asking (needed when not on a terminal).")
    var yes = false

    @Option(
      help:
        "Re-sign the result with this Ed25519 key file (the backup must be signed by a trusted signer, or --allow-unsigned)."
    )
    var signKey: String?

    func validate() throws {
      if !replacement.isEmpty && (!added.isEmpty || !removed.isEmpty || removePassphrase) {
        throw ValidationError(
          "--recipient replaces the whole set: do not combine it with --add-recipient, --remove-recipient or --remove-passphrase"
        )
      }
      if replacement.isEmpty && added.isEmpty && removed.isEmpty && !removePassphrase
        && newPassphraseFile == nil && signKey == nil
      {
        throw ValidationError(
          "give --add-recipient, --remove-recipient, --remove-passphrase, --new-passphrase-file, --recipient or --sign-key"
        )
      }
    }

    func run() async throws {
      if !removed.isEmpty || removePassphrase || !replacement.isEmpty {
        try Confirmation.require(
          "Remove recipients from \(backup) (they will no longer open it)?", word: "rewrap",
          yes: yes, flagHint: "remove recipients")
      }
      let passphrase = try newPassphraseFile.map { try KeyFile.readPassphrase(path: $0) }
      let opener = try keys.opener()
      let changes: BackupRewrap.Changes
      if replacement.isEmpty {
        changes = .init(
          add: try BackupRecipients(parsing: added, passphrase: passphrase),
          remove: try BackupRecipients(parsing: removed), removePassphrase: removePassphrase)
      } else {
        changes = .init(
          replacement: try BackupRecipients(parsing: replacement, passphrase: passphrase))
      }
      let bytes = try await BackupDestination.read(backup)
      let rewrapped = try BackupRewrap.rewrap(
        bytes, identities: opener.identities, changes: changes,
        signingKey: try signKey.map { try KeyFile.readSigningKey(path: $0) }, trust: opener.trust)
      try await BackupDestination.replace(backup, with: rewrapped.bytes)
      if rewrapped.untaggedStanzas > 0 {
        Terminal.warn(
          "\(rewrapped.untaggedStanzas) X25519 stanza(s) of \(backup) predate recipient tags and no --identity given opens them; removing those recipients later will need --recipient."
        )
      }
      Terminal.out(backup)
    }
  }
}

struct BackupListing: Encodable {
  let name: String
  let location: String
  let created: String
  let size: Int
  let kind: String

  init(_ entry: BackupDestination.Entry) {
    kind = BackupName.kind(of: entry.name)
    name = entry.name
    location = entry.location
    created = BackupName.iso8601(entry.date)
    size = entry.size
  }
}

struct PruneListing: Encodable {
  let kept: [String]
  let removed: [String]
  /// Future-dated names and (with --verify-headers) files that are not envelopes.
  let ignored: [String]
  /// Due for removal but still under S3 Object Lock retention: left in place (exit 0).
  let retained: [Retained]
  let dryRun: Bool

  struct Retained: Encodable {
    let location: String
    /// ISO 8601 UTC; nil for a legal hold (no date).
    let until: String?

    init(_ entry: BackupDestination.Entry, until: Date?) {
      location = entry.location
      self.until = until.map { BackupName.iso8601($0) }
    }
  }

  enum CodingKeys: String, CodingKey {
    case kept, removed, ignored, retained
    case dryRun = "dry_run"
  }
}

/// `--retain-days N [--retain-mode compliance|governance]`: S3 Object Lock on the new
/// backup (docs/backup.md).
struct BackupRetentionOptions: ParsableArguments {
  @Option(
    help:
      "Keep the new backup under S3 Object Lock for N days (needs an s3:// destination whose bucket has Object Lock enabled)."
  )
  var retainDays: Int?

  @Option(help: "Object Lock mode with --retain-days: compliance (default) or governance.")
  var retainMode: String = "compliance"

  func validate() throws {
    if let retainDays, !(1...36_500).contains(retainDays) {
      throw ValidationError("--retain-days must be between 1 and 36500")
    }
    if ObjectWriteOptions.RetentionMode(rawValue: retainMode.uppercased()) == nil {
      throw ValidationError("--retain-mode must be compliance or governance")
    }
  }

  func writeOptions(now: Date) -> ObjectWriteOptions {
    ObjectWriteOptions(
      retainUntil: retainDays.map { now.addingTimeInterval(Double($0) * 86_400) },
      retentionMode: ObjectWriteOptions.RetentionMode(rawValue: retainMode.uppercased())
        ?? .compliance)
  }
}
