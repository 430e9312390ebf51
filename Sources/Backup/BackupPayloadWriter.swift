import Crypto
import Envelope
import Foundation
import LockstepCore
import Vault

/// Writes a payload (docs/backup.md) record by record into an envelope as the secrets
/// arrive, so that a backup's memory is bounded by the envelope's buffer and the
/// destinations' part buffers, not by the number of secrets: each record is encoded, sealed
/// and handed to the sink at once; only the manifest's per-path digests (32 bytes a path)
/// are kept until the end.
///
/// Records come in arrival order (the walk's reads finish in any order); a path's records
/// (its metadata and versions) are always appended together, so its digest is computed
/// in one go. `@unchecked Sendable`: every field is used with `lock` held; the walk's HTTP
/// threads append concurrently.
final class BackupPayloadWriter: @unchecked Sendable {
  private let lock = NSLock()
  private let envelope: EnvelopeWriter
  private var digests: [String: [UInt8]] = [:]
  private(set) var versions = 0
  private var bytes = 0
  private var finished = false

  init(header: BackupPayload.Header, envelope: EnvelopeWriter) throws {
    self.envelope = envelope
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    try envelope.write(Array(try encoder.encode(header)) + [0x0A])
  }

  var paths: Int { lock.withLock { digests.count } }

  /// One path's records: its metadata (full-history backups) and its versions in order.
  func append(metadata: BackupPayload.Metadata?, secrets: [BackupPayload.Secret]) throws {
    let buffer = SecretBuffer(capacity: 1024)
    if let metadata {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      try encoder.encode(metadata).withUnsafeBytes { buffer.append($0) }
      buffer.append(0x0A)
    }
    guard let first = secrets.first else {
      // Metadata of a path without versions: no record, so no digest.
      try lock.withLock { try buffer.withUnsafeBytes { try envelope.write($0) } }
      return
    }
    let hasher = SHA256()
    var size = 0
    for secret in secrets {
      precondition(secret.fullPath == first.fullPath, "one path's records at a time")
      BackupPayload.writeLine(secret, to: buffer)
      if secret.state == .live {
        (secret.data ?? SecretBytes(copying: [])).withUnsafeBytes {
          Base64.encode($0, into: buffer)
        }
        buffer.append(0x0A)
      }
      hasher.update("\(secret.version ?? 0) \(secret.state.rawValue) \(secret.data?.count ?? 0)\n")
      secret.data?.withUnsafeBytes { hasher.update($0) }
      size += secret.data?.count ?? 0
    }
    let digest = hasher.finalize()
    try lock.withLock {
      precondition(!finished, "append after finish")
      guard digests[first.fullPath] == nil else {
        throw BackupError.io("\(first.fullPath) was read twice during one backup")
      }
      try buffer.withUnsafeBytes { try envelope.write($0) }
      digests[first.fullPath] = digest
      versions += secrets.count
      bytes += size
    }
  }

  /// Writes the manifest and seals the envelope's last chunk (and its signature). Blocks
  /// while the destinations take the last bytes: call it from a thread that may block.
  func finish() throws {
    try lock.withLock {
      finished = true
      let manifest = BackupPayload.Manifest(
        paths: digests.count, versions: versions, bytes: bytes,
        sha256: digests.mapValues { Hex.encode($0) })
      let buffer = SecretBuffer(capacity: 1 << 16)
      BackupPayload.writeLine(manifest, to: buffer)
      try buffer.withUnsafeBytes { try envelope.write($0) }
      try envelope.finish()
    }
  }
}
