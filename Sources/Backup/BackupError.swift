import LockstepCore

/// What went wrong in a backup workflow, as the one sentence a user sees. Never holds a
/// secret value; paths and key names only.
public enum BackupError: LockstepError, Equatable {
  case noRecipients
  case transitOnly
  case invalidRecipient(String)
  case emptyRetentionPolicy
  case notABackup(String)
  case manifestMismatch(String)
  case destinationExists(String)
  case uploadVerificationFailed(String)
  case io(String)
  case invalidResponse(path: String)
  case usage(String)
  case recipientNotPresent(String)
  case recipientsUntagged(recipient: String, count: Int)
  case lastRecipient
  case noTrustedSigner
  case unsigned
  case untrustedSigner(String)

  public var description: String {
    switch self {
    case .noRecipients:
      "A backup needs at least one --recipient (lockstep1… from `lockstep keygen`) or a --passphrase-file."
    case .transitOnly:
      "Refusing a backup whose only recipients are Vault Transit keys: restoring it would need the very Vault it backs up; add an X25519 recipient or a passphrase."
    case .invalidRecipient(let text):
      "'\(text)' is not a recipient: expected lockstep1… or vault-transit:MOUNT/KEY."
    case .emptyRetentionPolicy:
      "Refusing to prune with an empty policy (it would delete every backup): give at least one --keep-* option."
    case .notABackup(let reason):
      "The file decrypted but is not a lockstep Vault backup: \(reason)."
    case .manifestMismatch(let reason):
      "The backup's manifest does not match its contents: \(reason)."
    case .destinationExists(let name):
      "\(name) already exists; refusing to overwrite a backup."
    case .uploadVerificationFailed(let url):
      "The uploaded object \(url) did not read back identical; the temporary object was removed and nothing was committed."
    case .io(let sentence):
      sentence
    case .invalidResponse(let path):
      "Vault's answer for \(path) could not be understood."
    case .usage(let sentence):
      sentence
    case .recipientNotPresent(let recipient):
      "\(recipient) is not a recipient of this backup; nothing was changed."
    case .recipientsUntagged(let recipient, let count):
      "Cannot tell whether \(recipient) is a recipient of this backup: \(count) X25519 stanza(s) predate the recipient tags of format version 2 and no --identity given opens them; use --recipient to replace the whole set, listing everyone who keeps access."
    case .noTrustedSigner:
      "No trusted signer given: anyone with the public recipient key can make a backup that decrypts, so restore and verify need --verify-key lockstepsig1…|FILE, --trusted-signers FILE or LOCKSTEP_TRUSTED_SIGNERS (or --allow-unsigned to skip the check, which is recorded)."
    case .unsigned:
      "The backup is not signed, so nothing shows who made it; refusing it (--allow-unsigned accepts it anyway, recorded)."
    case .untrustedSigner(let key):
      "The backup is signed by \(key), which is not a trusted signer; refusing it (--allow-unsigned accepts it anyway, recorded)."
    case .lastRecipient:
      "Refusing to remove every recipient: nobody could open the backup again; add the new recipient in the same command (--add-recipient) or remove fewer."
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .noRecipients, .transitOnly, .invalidRecipient, .emptyRetentionPolicy, .usage,
      .recipientNotPresent, .lastRecipient, .noTrustedSigner:
      .usage
    case .unsigned, .untrustedSigner: .mismatch
    case .notABackup, .recipientsUntagged: .dataError
    case .manifestMismatch, .uploadVerificationFailed: .mismatch
    case .destinationExists, .io, .invalidResponse: .failure
    }
  }
}
