import Crypto
import Envelope
import Foundation
import LockstepCore
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

  public init(
    scope: VaultExporter.Scope, recipients: BackupRecipients, signingKey: Ed25519KeyPair? = nil,
    destinations: [BackupDestination]
  ) {
    self.scope = scope
    self.recipients = recipients
    self.signingKey = signingKey
    self.destinations = destinations
  }

  public func run(vault: VaultClient, now: Date = Date()) async throws -> Result {
    try recipients.validate()
    guard !destinations.isEmpty else { throw BackupError.usage("Give at least one --to.") }
    let clock = ContinuousClock()
    let start = clock.now
    for destination in destinations { try await destination.preflight() }
    let payload = try await VaultExporter(vault: vault).export(scope, created: now)
    let exported = clock.now
    let encrypted = try await encrypt(payload, vault: vault)
    let sealed = clock.now
    var name = BackupName.make(now)
    var attempt = 1
    // Two backups in the same second get -2, -3…: never overwrite, never fail for that.
    while try await destinations.asyncContains(where: { try await $0.exists(name: name) }) {
      attempt += 1
      name = BackupName.make(now, sequence: attempt)
    }
    var locations: [String] = []
    for destination in destinations {
      locations.append(try await destination.write(name: name, bytes: encrypted))
    }
    let end = clock.now
    // Counts only: the manifest's digests were computed once, inside the payload.
    let paths = Set(payload.secrets.map(\.fullPath)).count
    return Result(
      name: name, locations: locations, paths: paths, versions: payload.secrets.count,
      bytes: encrypted.count,
      durationSeconds: (end - start).inSeconds,
      phases: Result.Phases(
        vaultSeconds: (exported - start).inSeconds, encryptSeconds: (sealed - exported).inSeconds,
        writeSeconds: (end - sealed).inSeconds),
      created: payload.header.created)
  }

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

extension Array where Element == BackupDestination {
  fileprivate func asyncContains(where predicate: (BackupDestination) async throws -> Bool)
    async throws -> Bool
  {
    for element in self where try await predicate(element) { return true }
    return false
  }
}
