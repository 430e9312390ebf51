import Crypto
import Envelope
import Foundation
import LockstepCore
import Vault

/// `backup verify`: authenticity and integrity (the envelope), completeness (the
/// manifest), all without Vault; optionally a restore into a throw-away mount compared
/// secret by secret.
public struct BackupVerifier: Sendable {
  public struct Report: Sendable, Codable {
    public let created: String
    public let vaultAddress: String
    public let paths: Int
    public let versions: Int
    public let allVersions: Bool
    /// `lockstepsig1…` of the verified signer, when signed.
    public let signer: String?
    /// Whether a trusted signer vouched for it, or `--allow-unsigned` let it through.
    public let authenticity: SignerTrust.Outcome
    public let encryptedBytes: Int
    public var restoreTest: RestoreTest?

    enum CodingKeys: String, CodingKey {
      case created, paths, versions, signer, authenticity
      case vaultAddress = "vault_address"
      case allVersions = "all_versions"
      case encryptedBytes = "encrypted_bytes"
      case restoreTest = "restore_test"
    }
  }

  public struct RestoreTest: Sendable, Codable {
    public var mounts: [String] = []
    public var compared = 0
    /// Paths (with version) that did not come back identical.
    public var mismatches: [String] = []
    public var removed = false
  }

  public let opener: BackupOpener

  public init(opener: BackupOpener) { self.opener = opener }

  public func verify(_ envelope: [UInt8]) async throws -> (Report, BackupPayload) {
    let opened = try await opener.open(envelope)
    let manifest = opened.payload.makeManifest()
    let report = Report(
      created: opened.payload.header.created, vaultAddress: opened.payload.header.vaultAddress,
      paths: manifest.paths, versions: manifest.versions,
      allVersions: opened.payload.header.allVersions,
      signer: opened.signer.map { KeyFileText.signingPublicKey($0) },
      authenticity: opened.authenticity, encryptedBytes: opened.encryptedBytes, restoreTest: nil)
    return (report, opened.payload)
  }

  /// Restores `payload` into fresh mounts (one per backed-up mount), reads every secret
  /// back and compares, then removes the mounts whatever happened.
  public static func restoreTest(_ payload: BackupPayload, vault: VaultClient) async throws
    -> RestoreTest
  {
    var result = RestoreTest()
    var created: [String] = []
    do {
      for source in payload.header.sources {
        let name = "lockstep-restore-test-" + Hex.encode(CryptoRandom.bytes(count: 4))
        try await vault.enableKV(at: name, version: source.kvVersion)
        created.append(name)
        result.mounts.append(name + "/")
        var part = payload
        part.secrets = payload.secrets.filter { $0.mount == source.mount }
        part.metadata = payload.metadata.filter { $0.mount == source.mount }
        let restorer = VaultRestorer(vault: vault, options: .init(toMount: name))
        _ = try await restorer.restore(part)
        let mount = try await vault.mount(for: name)
        for secret in part.secrets {
          let shown = mount.path + secret.path + (secret.version.map { " (version \($0))" } ?? "")
          switch secret.state {
          case .live:
            let version = payload.header.allVersions && mount.kvVersion == 2 ? secret.version : nil
            let back = try await VaultRestorer.readIfPresent(
              vault, mount.path + secret.path, version: version)
            if back?.data != (try VaultRestorer.map(secret)) { result.mismatches.append(shown) }
          case .deleted, .destroyed:
            let meta = try await vault.metadata(mount.path + secret.path)
            let entry = meta.versions.first { $0.version == secret.version }
            let ok =
              secret.state == .destroyed
              ? (entry?.destroyed ?? true) : (entry?.isDeleted ?? false)
            if !ok { result.mismatches.append(shown) }
          }
          result.compared += 1
        }
      }
    } catch {
      for name in created { try? await vault.disableMount(at: name) }
      throw error
    }
    for name in created { try await vault.disableMount(at: name) }
    result.removed = true
    return result
  }
}

/// `lockstepsig1…` text of a signer for reports.
enum KeyFileText {
  static func signingPublicKey(_ key: [UInt8]) -> String {
    KeyFile.encodeSigningPublicKey(key)
  }
}
