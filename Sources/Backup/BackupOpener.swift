import Crypto
import Envelope
import Foundation
import LockstepCore
import Vault

/// Which signers a restore or verify trusts (docs/security.md, "Backups: threat model").
///
/// Anyone holding a public recipient key can make a file that decrypts, so decrypting
/// proves nothing about who made it: only a signature by a trusted key does. The default
/// trusts nobody, so a caller must name its signers or say `allowUnsigned`.
public struct SignerTrust: Sendable, Equatable {
  /// Ed25519 public keys whose backups are trusted.
  public var trusted: [[UInt8]]
  /// Accept a backup that is unsigned or signed by an unknown key (`--allow-unsigned`).
  public var allowUnsigned: Bool

  public init(trusted: [[UInt8]] = [], allowUnsigned: Bool = false) {
    self.trusted = trusted
    self.allowUnsigned = allowUnsigned
  }

  /// How a backup's authorship was established.
  public enum Outcome: String, Sendable, Codable {
    /// Signed by one of the trusted keys; the signature verified.
    case trustedSigner = "trusted-signer"
    /// Accepted without a trusted signature because of `--allow-unsigned`.
    case notVerified = "not-verified-allow-unsigned"
  }

  /// Decides on `header` before anything is decrypted: the signer to require, and how the
  /// backup will be trusted.
  func check(_ header: EnvelopeHeader) throws -> (expectedSigner: [UInt8]?, outcome: Outcome) {
    if let signer = header.signerPublicKey,
      trusted.contains(where: { ConstantTime.equal($0, signer) })
    {
      return (signer, .trustedSigner)
    }
    if allowUnsigned { return (nil, .notVerified) }
    guard !trusted.isEmpty else { throw BackupError.noTrustedSigner }
    guard let signer = header.signerPublicKey else { throw BackupError.unsigned }
    throw BackupError.untrustedSigner(KeyFile.encodeSigningPublicKey(signer))
  }
}

/// Decrypts a backup file and parses its payload; the signer is checked against `trust`
/// before decryption, the manifest and the payload paths on the way.
public struct BackupOpener: Sendable {
  public var identities: [Identity]
  public var trust: SignerTrust
  /// When set, Transit stanzas are tried through this Vault after the identities.
  public var transitVault: VaultClient?
  /// The Transit `MOUNT/KEY` the operator named: the only one a stanza may be sent to.
  public var transitKey: String?

  public init(
    identities: [Identity], trust: SignerTrust, transitVault: VaultClient? = nil,
    transitKey: String? = nil
  ) {
    self.identities = identities
    self.trust = trust
    self.transitVault = transitVault
    self.transitKey = transitKey
  }

  public struct Opened: Sendable {
    public let payload: BackupPayload
    public let signer: [UInt8]?
    public let authenticity: SignerTrust.Outcome
    public let encryptedBytes: Int
  }

  public func open(_ envelope: [UInt8]) async throws -> Opened {
    var all = identities
    let header = try EnvelopeHeader.read(from: MemoryStream(envelope))
    let (expectedSigner, outcome) = try trust.check(header)
    if let transitVault, let transitKey {
      if let key = try await BackupRecipients.unwrapWithTransit(
        header, vault: transitVault, key: transitKey)
      {
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
    return Opened(
      payload: payload, signer: summary.verifiedSigner, authenticity: outcome,
      encryptedBytes: envelope.count)
  }
}
