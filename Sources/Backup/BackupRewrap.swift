import Envelope
import LockstepCore

/// `backup rewrap`: changes who can open a backup without re-encrypting its payload.
public enum BackupRewrap {
  /// With `replace`, the new recipients are the whole set; otherwise they join the
  /// existing stanzas, which are kept byte for byte (including Transit ones).
  public static func rewrap(
    _ envelope: [UInt8], identities: [Identity], recipients: BackupRecipients, replace: Bool
  ) throws -> [UInt8] {
    let header = try EnvelopeHeader.read(from: MemoryStream(envelope))
    guard recipients.transitKeys.isEmpty else {
      throw BackupError.usage(
        "rewrap cannot add a Transit key (it would need Vault); add X25519 recipients or a passphrase."
      )
    }
    var all: [Recipient] = []
    if !replace {
      all = header.stanzas.map { .prewrapped(type: $0.type, body: $0.body) }
    } else if recipients.recipients.isEmpty {
      throw BackupError.noRecipients
    }
    all += recipients.recipients
    let opensWithoutVault = all.contains {
      if case .prewrapped(let type, _) = $0 { return type != EnvelopeHeader.Stanza.vaultTransit }
      return true
    }
    guard opensWithoutVault else { throw BackupError.transitOnly }
    let sink = MemoryStream()
    try EnvelopeFormat.rewrap(
      from: MemoryStream(envelope), to: sink, identities: identities, recipients: all)
    return sink.bytes
  }
}
