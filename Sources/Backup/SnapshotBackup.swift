import Crypto
import Envelope
import Foundation
import LockstepCore
import ObjectStore
import Vault

/// `backup snapshot`: a Raft snapshot of the whole cluster (KV, Transit keys, auth methods,
/// policies) in the same envelope, names, destinations and retention as KV backups.
///
/// The plaintext (format version 2, docs/format.md) is one JSON header line (`format:
/// lockstep-raft-snapshot`), the snapshot's bytes exactly as `sys/storage/raft/snapshot`
/// sent them, and one JSON trailer line (after an LF) with their length and SHA-256, so
/// that `verify` checks them without Vault. The trailer comes last because the snapshot is
/// streamed from Vault through the envelope into the destinations: its length and digest
/// are known only at its end, and it is never held in memory. Version 1 files (length and
/// digest in the header) are still read.
public struct SnapshotBackup: Sendable {
  public static let formatName = "lockstep-raft-snapshot"
  public static let formatVersion = 2
  /// A header or trailer line longer than this is not ours (and is not read further).
  static let maximumHeaderLength = 16 * 1024

  /// What a snapshot file says about its snapshot: the header line, and (version 2) the
  /// trailer's length and digest.
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

  /// The first line as written: version 1 carries the length and digest, version 2 not.
  struct HeaderLine: Codable {
    var record = "header"
    var format = SnapshotBackup.formatName
    var version = SnapshotBackup.formatVersion
    var created: String
    var vaultAddress: String
    var cluster: VaultClient.ClusterIdentity
    var snapshotBytes: Int?
    var snapshotSHA256: String?

    enum CodingKeys: String, CodingKey {
      case record, format, version, created, cluster
      case vaultAddress = "vault_address"
      case snapshotBytes = "snapshot_bytes"
      case snapshotSHA256 = "snapshot_sha256"
    }
  }

  /// The last line of a version 2 file.
  struct Trailer: Codable {
    var record = "trailer"
    var snapshotBytes: Int
    var snapshotSHA256: String

    enum CodingKeys: String, CodingKey {
      case record
      case snapshotBytes = "snapshot_bytes"
      case snapshotSHA256 = "snapshot_sha256"
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
      let created = BackupName.iso8601(now)
      let fileKey = SecretBytes.random(count: 32)
      let all = try await recipients.resolved(fileKey: fileKey, vault: vault)
      let fanOut = BackupFanOut(uploads)
      let envelope = SendableBox(
        try EnvelopeWriter(to: fanOut, recipients: all, signingKey: signingKey, fileKey: fileKey))
      let hasher = SendableBox(SHA256())
      // The header line fits the envelope's buffer: it is written without blocking.
      try envelope.value.write(
        Self.line(
          HeaderLine(created: created, vaultAddress: vault.configuration.address, cluster: cluster)
        ))
      // The snapshot goes from Vault through the envelope into the destinations as it
      // arrives, on the HTTP thread (which may block while a bucket takes a part): never
      // held in memory, whatever its size.
      let fetchStart = clock.now
      let snapshotBytes = try await vault.raftSnapshot { bytes in
        hasher.value.update(bytes)
        try envelope.value.write(bytes)
      }
      let fetched = clock.now
      let digest = Hex.encode(hasher.value.finalize())
      let trailer =
        [0x0A] + (try Self.line(Trailer(snapshotBytes: snapshotBytes, snapshotSHA256: digest)))
      try await onDedicatedThread {
        try envelope.value.write(trailer)
        try envelope.value.finish()
      }
      let sealed = clock.now
      var locations: [String] = []
      for upload in uploads { locations.append(try await upload.commit()) }
      let end = clock.now
      return Result(
        kind: "raft-snapshot", name: name, locations: locations, bytes: fanOut.bytes,
        snapshotBytes: snapshotBytes, durationSeconds: (end - start).inSeconds,
        phases: Result.Phases(
          snapshotSeconds: (fetched - fetchStart).inSeconds,
          encryptSeconds: (sealed - fetched).inSeconds, writeSeconds: (end - sealed).inSeconds),
        created: created)
    } catch {
      for upload in uploads { await upload.abort() }
      throw error
    }
  }

  /// One JSON line (sorted keys, LF).
  static func line(_ value: some Encodable) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return Array(try encoder.encode(value)) + [0x0A]
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
          HeaderLine.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[..<newline])))
      else { return false }
      return header.format == formatName
    }
  }

  static func split(_ plaintext: SecretBytes) throws -> (Header, SecretBytes) {
    try plaintext.withUnsafeBytes { bytes in
      guard let newline = bytes.prefix(maximumHeaderLength).firstIndex(of: 0x0A) else {
        throw BackupError.notABackup("it has no snapshot header")
      }
      let line: HeaderLine
      do {
        line = try JSONDecoder().decode(
          HeaderLine.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[..<newline])))
      } catch {
        throw BackupError.notABackup(
          "it holds no Raft snapshot (a KV backup is restored without --snapshot)")
      }
      guard line.format == formatName else {
        throw BackupError.notABackup("its format is '\(line.format)', not a Raft snapshot")
      }
      let body: UnsafeRawBufferPointer
      let length: Int
      let digest: String
      let source = line.version == 1 ? "header" : "trailer"
      switch line.version {
      case 1:
        guard let bytesField = line.snapshotBytes, let digestField = line.snapshotSHA256 else {
          throw BackupError.notABackup("its snapshot header has no length or SHA-256")
        }
        body = UnsafeRawBufferPointer(rebasing: bytes[(newline + 1)...])
        (length, digest) = (bytesField, digestField)
      case 2:
        // The trailer is the last line; JSON holds no raw LF, so it starts after the last
        // LF before the final one, whatever bytes the snapshot holds.
        let end = bytes.count - 1
        var start = end - 1
        while start > newline, bytes[start] != 0x0A, end - start <= maximumHeaderLength {
          start -= 1
        }
        guard end > newline, bytes[end] == 0x0A, start > newline, bytes[start] == 0x0A,
          let trailer = try? JSONDecoder().decode(
            Trailer.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<end]))),
          trailer.record == "trailer"
        else {
          throw BackupError.notABackup("its snapshot has no trailer with its length and SHA-256")
        }
        body = UnsafeRawBufferPointer(rebasing: bytes[(newline + 1)..<start])
        (length, digest) = (trailer.snapshotBytes, trailer.snapshotSHA256)
      default:
        throw BackupError.notABackup(
          "its snapshot format version \(line.version) is not supported by this lockstep")
      }
      guard body.count == length else {
        throw BackupError.manifestMismatch(
          "the snapshot has \(body.count) bytes, its \(source) says \(length)"
        )
      }
      guard Hex.encode(SHA256.hash(body)) == digest.lowercased() else {
        throw BackupError.manifestMismatch(
          "the snapshot's SHA-256 differs from its \(source)'s")
      }
      let header = Header(
        version: line.version, created: line.created, vaultAddress: line.vaultAddress,
        cluster: line.cluster, snapshotBytes: length, snapshotSHA256: digest.lowercased())
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
