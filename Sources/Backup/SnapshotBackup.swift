import Crypto
import Envelope
import Foundation
import LockstepCore
import ObjectStore
import Vault

/// `backup snapshot`: a Raft snapshot of the whole cluster (KV, Transit keys, auth methods,
/// policies) in the same envelope, names, destinations and retention as KV backups.
///
/// The plaintext is one JSON header line (`format: lockstep-raft-snapshot`, docs/format.md)
/// followed by the snapshot's bytes exactly as `sys/storage/raft/snapshot` sent them; the
/// header records their length and SHA-256 so that `verify` checks them without Vault.
public struct SnapshotBackup: Sendable {
  public static let formatName = "lockstep-raft-snapshot"
  public static let formatVersion = 1
  /// A header line longer than this is not ours (and is not read further).
  static let maximumHeaderLength = 16 * 1024

  public struct Header: Codable, Sendable, Equatable {
    public var record = "header"
    public var format = SnapshotBackup.formatName
    public var version = SnapshotBackup.formatVersion
    /// ISO 8601 UTC.
    public var created: String
    public var vaultAddress: String
    public var cluster: VaultClient.ClusterIdentity
    public var snapshotBytes: Int
    /// Lowercase hex SHA-256 of the snapshot bytes.
    public var snapshotSHA256: String

    enum CodingKeys: String, CodingKey {
      case record, format, version, created, cluster
      case vaultAddress = "vault_address"
      case snapshotBytes = "snapshot_bytes"
      case snapshotSHA256 = "snapshot_sha256"
    }
  }

  public struct Result: Sendable, Codable {
    public let kind: String
    public let name: String
    public let locations: [String]
    /// Size of the encrypted file.
    public let bytes: Int
    public let snapshotBytes: Int
    public let durationSeconds: Double
    public let phases: Phases
    public let created: String

    public struct Phases: Sendable, Codable {
      /// The snapshot's own `GET` (the server's time to produce and send it).
      public let snapshotSeconds: Double
      public let encryptSeconds: Double
      public let writeSeconds: Double

      enum CodingKeys: String, CodingKey {
        case snapshotSeconds = "snapshot_seconds"
        case encryptSeconds = "encrypt_seconds"
        case writeSeconds = "write_seconds"
      }
    }

    enum CodingKeys: String, CodingKey {
      case kind, name, locations, bytes, created, phases
      case snapshotBytes = "snapshot_bytes"
      case durationSeconds = "duration_seconds"
    }
  }

  /// An opened snapshot backup.
  public struct Opened: Sendable {
    public let header: Header
    public let snapshot: SecretBytes
    public let signer: [UInt8]?
    public let encryptedBytes: Int
  }

  public var recipients: BackupRecipients
  public var signingKey: Ed25519KeyPair?
  public var destinations: [BackupDestination]
  /// S3 Object Lock retention of the new object (`--retain-days`).
  public var writeOptions: ObjectWriteOptions

  public init(
    recipients: BackupRecipients, signingKey: Ed25519KeyPair? = nil,
    destinations: [BackupDestination], writeOptions: ObjectWriteOptions = ObjectWriteOptions()
  ) {
    self.recipients = recipients
    self.signingKey = signingKey
    self.destinations = destinations
    self.writeOptions = writeOptions
  }

  public func run(vault: VaultClient, now: Date = Date()) async throws -> Result {
    try recipients.validate()
    guard !destinations.isEmpty else { throw BackupError.usage("Give at least one --to.") }
    let clock = ContinuousClock()
    let start = clock.now
    let (name, uploads) = try await BackupUpload.openFree(
      destinations, options: writeOptions, name: { BackupName.makeSnapshot(now, sequence: $0) })
    do {
      let cluster = try await vault.clusterIdentity()
      let fetchStart = clock.now
      let snapshot = try await vault.raftSnapshot()
      let fetched = clock.now
      let header = Header(
        created: BackupName.iso8601(now), vaultAddress: vault.configuration.address,
        cluster: cluster, snapshotBytes: snapshot.count,
        snapshotSHA256: snapshot.withUnsafeBytes { Hex.encode(SHA256.hash($0)) })
      let fileKey = SecretBytes.random(count: 32)
      let all = try await recipients.resolved(fileKey: fileKey, vault: vault)
      let fanOut = BackupFanOut(uploads)
      let envelope = SendableBox(
        try EnvelopeWriter(to: fanOut, recipients: all, signingKey: signingKey, fileKey: fileKey))
      let line = try Self.headerLine(header)
      // The header line and then the snapshot, sealed chunk by chunk from the bytes Vault
      // sent (no second plaintext copy) straight into the destinations, on a thread that
      // may block while a bucket takes a part.
      try await onDedicatedThread {
        try envelope.value.write(line)
        try snapshot.withUnsafeBytes { try envelope.value.write($0) }
        try envelope.value.finish()
      }
      let sealed = clock.now
      var locations: [String] = []
      for upload in uploads { locations.append(try await upload.commit()) }
      let end = clock.now
      return Result(
        kind: "raft-snapshot", name: name, locations: locations, bytes: fanOut.bytes,
        snapshotBytes: snapshot.count, durationSeconds: (end - start).inSeconds,
        phases: Result.Phases(
          snapshotSeconds: (fetched - fetchStart).inSeconds,
          encryptSeconds: (sealed - fetched).inSeconds, writeSeconds: (end - sealed).inSeconds),
        created: header.created)
    } catch {
      for upload in uploads { await upload.abort() }
      throw error
    }
  }

  static func headerLine(_ header: Header) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Array(try encoder.encode(header)) + [0x0A]
  }

  /// Decrypts `envelope`, checks that it holds a snapshot and that the snapshot's length
  /// and SHA-256 match its header.
  public static func open(_ envelope: [UInt8], opener: BackupOpener) async throws -> Opened {
    var identities = opener.identities
    // The same trust rule as a KV backup: a trusted signer, or an explicit --allow-unsigned.
    let envelopeHeader = try EnvelopeHeader.read(from: MemoryStream(envelope))
    let (expectedSigner, _) = try opener.trust.check(envelopeHeader)
    if let transitVault = opener.transitVault, let transitKey = opener.transitKey {
      if let key = try await BackupRecipients.unwrapWithTransit(
        envelopeHeader, vault: transitVault, key: transitKey)
      {
        identities.append(.fileKey(key))
      }
    }
    let (plaintext, summary) = try EnvelopeFormat.decrypt(
      envelope, identities: identities, expectedSigner: expectedSigner)
    let (header, snapshot) = try split(plaintext)
    return Opened(
      header: header, snapshot: snapshot, signer: summary.verifiedSigner,
      encryptedBytes: envelope.count)
  }

  /// Whether a decrypted payload is a snapshot backup (for the KV reader's sentence).
  public static func isSnapshot(_ plaintext: SecretBytes) -> Bool {
    plaintext.withUnsafeBytes { bytes in
      guard
        let newline = bytes.prefix(maximumHeaderLength).firstIndex(of: 0x0A),
        let header = try? JSONDecoder().decode(
          Header.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[..<newline])))
      else { return false }
      return header.format == formatName
    }
  }

  static func split(_ plaintext: SecretBytes) throws -> (Header, SecretBytes) {
    try plaintext.withUnsafeBytes { bytes in
      guard let newline = bytes.prefix(maximumHeaderLength).firstIndex(of: 0x0A) else {
        throw BackupError.notABackup("it has no snapshot header")
      }
      let header: Header
      do {
        header = try JSONDecoder().decode(
          Header.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[..<newline])))
      } catch {
        throw BackupError.notABackup(
          "it holds no Raft snapshot (a KV backup is restored without --snapshot)")
      }
      guard header.format == formatName else {
        throw BackupError.notABackup("its format is '\(header.format)', not a Raft snapshot")
      }
      guard header.version == formatVersion else {
        throw BackupError.notABackup(
          "its snapshot format version \(header.version) is not supported by this lockstep")
      }
      let body = UnsafeRawBufferPointer(rebasing: bytes[(newline + 1)...])
      guard body.count == header.snapshotBytes else {
        throw BackupError.manifestMismatch(
          "the snapshot has \(body.count) bytes, its header says \(header.snapshotBytes)")
      }
      guard Hex.encode(SHA256.hash(body)) == header.snapshotSHA256.lowercased() else {
        throw BackupError.manifestMismatch("the snapshot's SHA-256 differs from its header's")
      }
      return (header, SecretBytes(copying: body))
    }
  }
}

extension BackupName {
  /// Snapshot backups share the KV backups' prefix and time stamp (so `list` and `prune`
  /// date them alike) and end in `.snapshot.lsb`, so a listing tells the kinds apart and
  /// prune keeps each kind's own retention.
  public static let snapshotSuffix = ".snapshot.lsb"

  public static func makeSnapshot(_ date: Date, sequence: Int = 1) -> String {
    String(make(date, sequence: sequence).dropLast(suffix.count)) + snapshotSuffix
  }

  /// "raft-snapshot" or "kv", from the name.
  public static func kind(of name: String) -> String {
    name.hasSuffix(snapshotSuffix) ? "raft-snapshot" : "kv"
  }
}
