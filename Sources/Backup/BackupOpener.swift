import Envelope
import Foundation
import LockstepCore
import Vault

/// Decrypts a backup file and parses its payload; the manifest is checked on the way.
public struct BackupOpener: Sendable {
  public var identities: [Identity]
  /// Expected Ed25519 signer, when the caller wants authorship checked.
  public var expectedSigner: [UInt8]?
  /// When set, Transit stanzas are tried through this Vault after the identities.
  public var transitVault: VaultClient?

  public init(
    identities: [Identity], expectedSigner: [UInt8]? = nil, transitVault: VaultClient? = nil
  ) {
    self.identities = identities
    self.expectedSigner = expectedSigner
    self.transitVault = transitVault
  }

  public struct Opened: Sendable {
    public let payload: BackupPayload
    public let signer: [UInt8]?
    public let encryptedBytes: Int
  }

  public func open(_ envelope: [UInt8]) async throws -> Opened {
    var all = identities
    if let transitVault {
      let header = try EnvelopeHeader.read(from: MemoryStream(envelope))
      if let key = await BackupRecipients.unwrapWithTransit(header, vault: transitVault) {
        all.append(.fileKey(key))
      }
    }
    let (plaintext, summary) = try EnvelopeFormat.decrypt(
      envelope, identities: all, expectedSigner: expectedSigner)
    if SnapshotBackup.isSnapshot(plaintext) {
      throw BackupError.notABackup(
        "it holds a Raft snapshot of a whole cluster, not KV secrets (restore it with --snapshot)")
    }
    let payload = try BackupPayload.decode(plaintext)
    return Opened(payload: payload, signer: summary.verifiedSigner, encryptedBytes: envelope.count)
  }
}
