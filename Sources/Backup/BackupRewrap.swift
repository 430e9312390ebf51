import Crypto
import Envelope
import LockstepCore

/// `backup rewrap`: changes who can open a backup without re-encrypting its payload.
public enum BackupRewrap {
  /// What to change. Removals apply first, then additions, so that one command can
  /// replace an operator's key or a passphrase. With `replacement`, the other fields must
  /// be empty: the replacement is the whole new set.
  public struct Changes: Sendable {
    public var add: BackupRecipients
    /// X25519 recipients and Transit keys to remove (a passphrase in it is ignored; see
    /// `removePassphrase`).
    public var remove: BackupRecipients
    /// Removes every passphrase stanza.
    public var removePassphrase: Bool
    public var replacement: BackupRecipients?

    public init(
      add: BackupRecipients = .init(), remove: BackupRecipients = .init(),
      removePassphrase: Bool = false, replacement: BackupRecipients? = nil
    ) {
      self.add = add
      self.remove = remove
      self.removePassphrase = removePassphrase
      self.replacement = replacement
    }
  }

  /// A rewrapped backup.
  public struct Rewrapped: Sendable {
    public let bytes: [UInt8]
    /// X25519 stanzas still without a recipient tag (carried over from format version 1,
    /// opened by no identity given): removing their recipients later needs `--recipient`.
    public let untaggedStanzas: Int
  }

  /// With `replace`, the new recipients are the whole set; otherwise they join the
  /// existing stanzas, which are kept byte for byte (including Transit ones).
  public static func rewrap(
    _ envelope: [UInt8], identities: [Identity], recipients: BackupRecipients, replace: Bool
  ) throws -> [UInt8] {
    try rewrap(
      envelope, identities: identities,
      changes: replace ? Changes(replacement: recipients) : Changes(add: recipients)
    ).bytes
  }

  /// Applies `changes`, refusing (before anything is written) to remove a recipient that is
  /// not there or cannot be told apart, to leave no recipient, or to leave only Transit
  /// keys. The result is a format-version-2 envelope whose payload bytes (and signature)
  /// are those of `envelope`.
  ///
  /// With `signingKey` the result is re-signed by it (after every chunk and the old
  /// signature are checked); the old file must then be signed by a signer `trust` names,
  /// or `trust.allowUnsigned` must be set, so that re-signing never launders a forgery.
  public static func rewrap(
    _ envelope: [UInt8], identities: [Identity], changes: Changes,
    signingKey: Ed25519KeyPair? = nil, trust: SignerTrust = SignerTrust()
  ) throws -> Rewrapped {
    var trustedSigner: [UInt8]?
    if signingKey != nil {
      trustedSigner = try trust.check(EnvelopeHeader.read(from: MemoryStream(envelope)))
        .expectedSigner
    }
    let additions = changes.replacement ?? changes.add
    guard additions.transitKeys.isEmpty else {
      throw BackupError.usage(
        "rewrap cannot add a Transit key (it would need Vault); add X25519 recipients or a passphrase."
      )
    }
    if let replacement = changes.replacement {
      guard !replacement.recipients.isEmpty else { throw BackupError.noRecipients }
      guard changes.add.recipients.isEmpty, changes.add.transitKeys.isEmpty,
        changes.remove.recipients.isEmpty, changes.remove.transitKeys.isEmpty,
        !changes.removePassphrase
      else {
        throw BackupError.usage(
          "--recipient replaces the whole recipient set; it cannot be combined with --add-recipient, --remove-recipient or --remove-passphrase."
        )
      }
    }
    let sink = MemoryStream()
    var untagged = 0
    try EnvelopeFormat.rewrap(
      from: MemoryStream(envelope), to: sink, identities: identities, signingKey: signingKey,
      trustedSigner: trustedSigner
    ) { stanzas in
      if changes.replacement != nil { stanzas.removeAll() }
      try remove(changes, from: &stanzas)
      for recipient in additions.recipients { try stanzas.add(recipient) }
      let types = stanzas.types
      guard !types.isEmpty else { throw BackupError.lastRecipient }
      let opensWithoutVault = types.contains {
        $0 == EnvelopeHeader.Stanza.x25519 || $0 == EnvelopeHeader.Stanza.argon2id
      }
      guard opensWithoutVault else { throw BackupError.transitOnly }
      untagged = stanzas.untaggedCount
    }
    return Rewrapped(bytes: sink.bytes, untaggedStanzas: untagged)
  }

  private static func remove(_ changes: Changes, from stanzas: inout RecipientStanzas) throws {
    for recipient in changes.remove.recipients {
      guard case .x25519(let publicKey) = recipient else { continue }
      let text = Recipient.encode(x25519PublicKey: publicKey)
      switch stanzas.remove(x25519PublicKey: publicKey) {
      case .removed: continue
      case .notPresent: throw BackupError.recipientNotPresent(text)
      case .unknown(let untagged):
        throw BackupError.recipientsUntagged(recipient: text, count: untagged)
      }
    }
    for key in changes.remove.transitKeys {
      let prefix = Array((key + "\n").utf8)
      let removed = stanzas.removeAll(type: EnvelopeHeader.Stanza.vaultTransit) {
        $0.starts(with: prefix)
      }
      guard removed > 0 else {
        throw BackupError.recipientNotPresent(BackupRecipients.transitPrefix + key)
      }
    }
    if changes.removePassphrase {
      let removed = stanzas.removeAll(type: EnvelopeHeader.Stanza.argon2id) { _ in true }
      guard removed > 0 else { throw BackupError.recipientNotPresent("a passphrase") }
    }
  }
}
