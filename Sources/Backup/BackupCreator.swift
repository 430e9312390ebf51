import Crypto
import Envelope
import Foundation
import LockstepCore
import ObjectStore
import Vault

/// `backup create`: Vault → payload → envelope → every destination.
public struct BackupCreator: Sendable {
  public struct Result: Sendable, Codable {
    public let name: String
    public let locations: [String]
    public let paths: Int
    public let versions: Int
    /// Size of the encrypted file.
    public let bytes: Int
    public let durationSeconds: Double
    /// The parts of `durationSeconds`: reading Vault, building and encrypting the payload,
    /// and writing every destination (with its checks).
    public let phases: Phases
    public let created: String

    public struct Phases: Sendable, Codable {
      public let vaultSeconds: Double
      public let encryptSeconds: Double
      public let writeSeconds: Double

      enum CodingKeys: String, CodingKey {
        case vaultSeconds = "vault_seconds"
        case encryptSeconds = "encrypt_seconds"
        case writeSeconds = "write_seconds"
      }
    }

    enum CodingKeys: String, CodingKey {
      case name, locations, paths, versions, bytes, created, phases
      case durationSeconds = "duration_seconds"
    }
  }

  public var scope: VaultExporter.Scope
  public var recipients: BackupRecipients
  public var signingKey: Ed25519KeyPair?
  public var destinations: [BackupDestination]
  /// S3 Object Lock retention of the new object (`--retain-days`).
  public var writeOptions: ObjectWriteOptions

  public init(
    scope: VaultExporter.Scope, recipients: BackupRecipients, signingKey: Ed25519KeyPair? = nil,
    destinations: [BackupDestination], writeOptions: ObjectWriteOptions = ObjectWriteOptions()
  ) {
    self.scope = scope
    self.recipients = recipients
    self.signingKey = signingKey
    self.destinations = destinations
    self.writeOptions = writeOptions
  }

  /// Streams Vault → payload records → envelope chunks → every destination: memory stays
  /// bounded by the envelope's buffer and one part per bucket, whatever the number of
  /// secrets. The phases overlap: `vault_seconds` covers the walk and the encryption and
  /// writes done while it runs, `encrypt_seconds` the manifest and the last chunks,
  /// `write_seconds` the commits (fsync + rename, the last part and the completion).
  public func run(vault: VaultClient, now: Date = Date()) async throws -> Result {
    try recipients.validate()
    guard !destinations.isEmpty else { throw BackupError.usage("Give at least one --to.") }
    let clock = ContinuousClock()
    let start = clock.now
    let (name, uploads) = try await BackupUpload.openFree(
      destinations, options: writeOptions, name: { BackupName.make(now, sequence: $0) })
    do {
      let fileKey = SecretBytes.random(count: 32)
      let all = try await recipients.resolved(fileKey: fileKey, vault: vault)
      let fanOut = BackupFanOut(uploads)
      let envelope = try EnvelopeWriter(
        to: fanOut, recipients: all, signingKey: signingKey, fileKey: fileKey)
      let writer = try await VaultExporter(vault: vault).stream(scope, created: now) {
        try BackupPayloadWriter(header: $0, envelope: envelope)
      }
      let exported = clock.now
      try await onDedicatedThread { try writer.finish() }
      let sealed = clock.now
      var locations: [String] = []
      for upload in uploads { locations.append(try await upload.commit()) }
      let end = clock.now
      return Result(
        name: name, locations: locations, paths: writer.paths, versions: writer.versions,
        bytes: fanOut.bytes, durationSeconds: (end - start).inSeconds,
        phases: Result.Phases(
          vaultSeconds: (exported - start).inSeconds,
          encryptSeconds: (sealed - exported).inSeconds, writeSeconds: (end - sealed).inSeconds),
        created: BackupName.iso8601(now))
    } catch {
      for upload in uploads { await upload.abort() }
      throw error
    }
  }

  /// A whole payload encrypted in memory (tests and tools; `run` streams instead).
  func encrypt(_ payload: BackupPayload, vault: VaultClient) async throws -> [UInt8] {
    let fileKey = SecretBytes.random(count: 32)
    let all = try await recipients.resolved(fileKey: fileKey, vault: vault)
    let plaintext = try payload.encoded()
    let sink = MemoryStream()
    let writer = try EnvelopeWriter(
      to: sink, recipients: all, signingKey: signingKey, fileKey: fileKey)
    try plaintext.withUnsafeBytes { try writer.write($0) }
    try writer.finish()
    return sink.bytes
  }
}
