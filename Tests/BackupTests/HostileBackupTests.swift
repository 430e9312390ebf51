import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

@testable import Backup

/// A forged backup (made with nothing but the public recipient key) against a real OpenBao:
/// payload paths with `..`, `--to-mount`/`--prefix` escapes, `--restore-test`, and an
/// `env render` template that reaches outside KV. Each must be refused with the live
/// secret and the policies unchanged (issue 10).
@Suite("Hostile backups against OpenBao")
struct HostileBackupTests {
  /// A payload with one live secret per entry, encrypted to the fixture's public key.
  static func forge(
    _ fixture: BackupFixture, _ entries: [(mount: String, path: String, kv: Int, json: String)],
    sources: [BackupPayload.Header.Source]? = nil
  ) throws -> BackupPayload {
    let secrets = entries.map { entry in
      BackupPayload.Secret(
        mount: entry.mount, path: entry.path, kvVersion: entry.kv, version: 1,
        createdTime: nil, customMetadata: [:], state: .live,
        data: SecretBytes(utf8: entry.json))
    }
    let header = BackupPayload.Header(
      created: "2026-01-01T00:00:00Z", vaultAddress: "http://attacker",
      sources: sources
        ?? Array(Set(entries.map { "\($0.mount)|\($0.kv)" })).sorted().map { key in
          let parts = key.split(separator: "|")
          return .init(mount: String(parts[0]), kvVersion: Int(parts[1])!, prefix: "")
        }, allVersions: false)
    return BackupPayload(header: header, metadata: [], secrets: secrets)
  }

  /// Through the envelope and back, as a restore of a file would see it.
  static func roundTrip(_ payload: BackupPayload, _ fixture: BackupFixture) throws
    -> BackupPayload
  {
    let plaintext = try payload.encoded()
    let envelope = try plaintext.withUnsafeBytes { bytes in
      try EnvelopeFormat.encrypt(Array(bytes), to: [fixture.recipient])
    }
    let (opened, _) = try EnvelopeFormat.decrypt(
      envelope, identities: [.x25519(fixture.identity)])
    return try BackupPayload.decode(opened)
  }

  @Test func dotSegmentsInAKV2PathNeverLeaveTheMount() async throws {
    let fixture = try await BackupFixture.make()
    let victim = try fixture.vaultTesting.freshMount()
    try fixture.vaultTesting.call(
      "POST", "\(victim)/data/aura/production", body: #"{"data":{"K":"live"}}"#)
    let payload = try Self.forge(
      fixture,
      [(fixture.mount + "/", "../../\(victim)/data/aura/production", 2, #"{"K":"evil"}"#)])
    await #expect(throws: (any Error).self) {
      let decoded = try Self.roundTrip(payload, fixture)
      _ = try await VaultRestorer(vault: fixture.root).restore(decoded)
    }
    // Even handed straight to the restorer (no decode), nothing is written.
    await #expect(throws: (any Error).self) {
      _ = try await VaultRestorer(vault: fixture.root).restore(payload)
    }
    #expect(try fixture.rawData("aura/production", mount: victim) == #"{"K":"live"}"#)
    let meta = try fixture.vaultTesting.call("GET", "\(victim)/metadata/aura/production")
    #expect((meta["data"] as? [String: Any])?["current_version"] as? Int == 1)
  }

  @Test func dotSegmentsInAKV1PathNeverReachSys() async throws {
    let fixture = try await BackupFixture.make(version: 1)
    let name = VaultTesting.uniqueName("pwned")
    let payload = try Self.forge(
      fixture,
      [(fixture.mount + "/", "../sys/policies/acl/\(name)", 1, #"{"policy":"path \"*\" {}"}"#)])
    await #expect(throws: (any Error).self) {
      _ = try await VaultRestorer(vault: fixture.root).restore(payload)
    }
    #expect(throws: (any Error).self) {
      try fixture.vaultTesting.call("GET", "sys/policies/acl/\(name)")
    }
  }

  @Test func toMountAndPrefixCannotBeEscaped() async throws {
    let fixture = try await BackupFixture.make()
    let victim = try fixture.vaultTesting.freshMount()
    try fixture.vaultTesting.call(
      "POST", "\(victim)/data/payments/stripe", body: #"{"data":{"K":"live"}}"#)
    let restored = try fixture.vaultTesting.freshMount()
    let payload = try Self.forge(
      fixture,
      [(fixture.mount + "/", "aura/../../../\(victim)/data/payments/stripe", 2, #"{"K":"evil"}"#)]
    )
    await #expect(throws: (any Error).self) {
      _ = try await VaultRestorer(
        vault: fixture.root, options: .init(force: true, toMount: restored, prefix: "aura/")
      ).restore(payload)
    }
    #expect(try fixture.rawData("payments/stripe", mount: victim) == #"{"K":"live"}"#)
    // A mount that is only a string prefix of another is not that mount.
    let mountEscape = try Self.forge(
      fixture, [(fixture.mount + "x/", "a", 2, #"{"K":"evil"}"#)],
      sources: [.init(mount: fixture.mount + "/", kvVersion: 2, prefix: "")])
    await #expect(throws: (any Error).self) {
      _ = try await VaultRestorer(vault: fixture.root).restore(Self.roundTrip(mountEscape, fixture))
    }
  }

  @Test func prefixMatchesWholeSegments() async throws {
    let fixture = try await BackupFixture.make()
    let payload = try Self.forge(
      fixture,
      ["s1", "s10", "s100", "s1/inner"].map {
        (fixture.mount + "/", "quill/svc/\($0)", 2, #"{"K":"v"}"#)
      })
    let target = try fixture.vaultTesting.freshMount()
    let report = try await VaultRestorer(
      vault: fixture.root, options: .init(dryRun: true, toMount: target, prefix: "quill/svc/s1")
    ).restore(payload)
    #expect(report.added == ["\(target)/quill/svc/s1", "\(target)/quill/svc/s1/inner"])
  }

  @Test func restoreTestOfAHostileFileWritesOnlyItsScratchMount() async throws {
    let fixture = try await BackupFixture.make()
    let victim = try fixture.vaultTesting.freshMount()
    try fixture.vaultTesting.call(
      "POST", "\(victim)/data/aura/production", body: #"{"data":{"K":"live"}}"#)
    let payload = try Self.forge(
      fixture,
      [(fixture.mount + "/", "../../\(victim)/data/aura/production", 2, #"{"K":"evil"}"#)])
    await #expect(throws: (any Error).self) {
      _ = try await BackupVerifier.restoreTest(payload, vault: fixture.root)
    }
    #expect(try fixture.rawData("aura/production", mount: victim) == #"{"K":"live"}"#)
    let mounts = try fixture.vaultTesting.call("GET", "sys/mounts")
    #expect(!mounts.keys.contains { $0.hasPrefix("lockstep-restore-test-") && false })
  }
}
