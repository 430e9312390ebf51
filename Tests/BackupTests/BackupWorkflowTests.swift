import Crypto
import Envelope
import Foundation
import LockstepCore
import ObjectStore
import TestSupport
import Testing
import Vault

@testable import Backup

#if canImport(Glibc)
  import Glibc
#endif

/// create → list → verify → restore → prune against a real OpenBao, with the tokens of
/// the repository's least-privilege policies.
@Suite("Backup workflow against OpenBao")
struct BackupWorkflowTests {
  static let nested =
    #"{"API_KEY":"k-1","CONFIG":{"a":[1,2,{"b":null}],"c":true},"N":42,"BIN":"\u0000\u00ff\n\"é","#
    + #""BIG":12345678901234567890123,"E":1e300,"F":1.0,"NEG":-0.0,"#
    + #""HTML":"<a&b>\u2028\ud83d\udd11","#
    + #""LARGE":""# + String(repeating: #"\u0001\"\\x/é"#, count: 6_000) + #""}"#

  @Test func fullHistoryRoundTripsThroughADirectory() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("aura/production", Self.nested)
    try fixture.put("aura/history", #"{"K":"v1"}"#)
    try fixture.put("aura/history", #"{"K":"v2"}"#)
    try fixture.put("aura/history", #"{"K":"v3"}"#)
    try fixture.put("aura/history", #"{"K":"v4"}"#)
    try fixture.vaultTesting.call(
      "POST", "\(fixture.mount)/delete/aura/history", body: #"{"versions":[2]}"#)
    try fixture.vaultTesting.call(
      "PUT", "\(fixture.mount)/destroy/aura/history", body: #"{"versions":[3]}"#)
    try fixture.vaultTesting.call(
      "POST", "\(fixture.mount)/metadata/aura/history",
      body: #"{"custom_metadata":{"owner":"team-a"},"max_versions":20}"#)
    try fixture.put("elsewhere/x", #"{"X":"1"}"#)

    let directory = try TemporaryDirectory.make(prefix: "lockstep-backup")
    let creator = BackupCreator(
      scope: .init(mounts: [fixture.mount], prefix: "aura/", allVersions: true),
      recipients: BackupRecipients(recipients: [fixture.recipient]),
      destinations: [.directory(directory)])
    let result = try await creator.run(vault: try fixture.client(policy: "lockstep-backup"))
    #expect(result.paths == 2)
    #expect(result.versions == 5)
    let path = try #require(result.locations.first)
    var info = stat()
    #expect(stat(path, &info) == 0)
    #expect(info.st_mode & 0o777 == 0o600)

    let entries = try await BackupDestination.directory(directory).list()
    #expect(entries.map(\.location) == [path])

    let opener = BackupOpener(
      identities: [.x25519(fixture.identity)], trust: .init(allowUnsigned: true))
    let bytes = try await BackupDestination.read(path)
    let (report, payload) = try await BackupVerifier(opener: opener).verify(bytes)
    #expect(report.paths == 2 && report.versions == 5 && report.allVersions)

    // Into another mount, with the restore policy's token: states and numbers match.
    let target = try fixture.vaultTesting.freshMount()
    let restorer = VaultRestorer(
      vault: try fixture.client(policy: "lockstep-restore", mounts: [target]),
      options: .init(toMount: target))
    let dry = try await VaultRestorer(
      vault: fixture.root, options: .init(dryRun: true, toMount: target)
    ).restore(payload)
    #expect(dry.added == ["\(target)/aura/history", "\(target)/aura/production"])
    #expect(dry.written == 0)
    let restored = try await restorer.restore(payload)
    #expect(restored.added.count == 2)
    #expect(
      try fixture.rawData("aura/production", mount: target) == fixture.rawData("aura/production"))
    // Byte for byte as OpenBao stores it (it keeps numbers as float64 and writes
    // 1.2345678901234568e+22, 1e+300, 1, -0; it escapes <, & and >): no renormalising of
    // ours on top, and the escapes come back as they were.
    let exact = try await fixture.exactData("aura/production")
    // Booleans first: a failing #expect would print the 70 KB value.
    let numbers =
      exact.contains(#""BIG":1.2345678901234568e+22,"#)
      && exact.contains(#""E":1e+300,"F":1,"#) && exact.contains(#""NEG":-0}"#)
    let escapes = exact.contains(#""HTML":"\u003ca\u0026b\u003e\u2028🔑""#)
    let same = try await fixture.exactData("aura/production", mount: target) == exact
    #expect(numbers && escapes && exact.utf8.count > 60_000)
    #expect(same)
    for version in [1, 4] {
      #expect(
        try fixture.rawData("aura/history", mount: target, version: version)
          == fixture.rawData("aura/history", version: version))
    }
    let meta = try await fixture.root.metadata("\(target)/aura/history")
    #expect(meta.currentVersion == 4)
    #expect(meta.customMetadata == ["owner": "team-a"])
    #expect(meta.maxVersions == 20)
    #expect(meta.versions.map(\.isDeleted) == [false, true, false, false])
    #expect(meta.versions.map(\.destroyed) == [false, false, true, false])

    // The same again changes nothing.
    let again = try await restorer.restore(payload)
    #expect(again.unchanged.count == 2 && again.written == 0)

    // Restore test: into a temporary mount, compared, mount removed.
    let test = try await BackupVerifier.restoreTest(payload, vault: fixture.root)
    #expect(test.compared == 5 && test.mismatches.isEmpty && test.removed)
    let mounts = try fixture.vaultTesting.call("GET", "sys/mounts")
    #expect(!mounts.keys.contains { $0.hasPrefix("lockstep-restore-test-") })
  }

  @Test func latestRestoreUsesCheckAndSetAndRespectsNewerVersions() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("app/a", #"{"K":"old"}"#)
    try fixture.put("app/b", #"{"K":"b"}"#)
    let payload = try await VaultExporter(vault: fixture.root).export(
      .init(mounts: [fixture.mount]))
    try fixture.put("app/a", #"{"K":"newer"}"#)  // live is now newer than the backup
    try fixture.vaultTesting.call("DELETE", "\(fixture.mount)/metadata/app/b")  // gone

    let restorer = VaultRestorer(vault: try fixture.client(policy: "lockstep-restore"))
    let dry = try await VaultRestorer(vault: fixture.root, options: .init(dryRun: true)).restore(
      payload)
    #expect(dry.added == ["\(fixture.mount)/app/b"])
    #expect(dry.conflicts == ["\(fixture.mount)/app/a"])
    let report = try await restorer.restore(payload)
    #expect(report.added == ["\(fixture.mount)/app/b"])
    #expect(report.conflicts == ["\(fixture.mount)/app/a"])
    #expect(try fixture.rawData("app/a") == #"{"K":"newer"}"#)
    #expect(try fixture.rawData("app/b") == #"{"K":"b"}"#)

    var forced = restorer
    forced.options.force = true
    let overwritten = try await forced.restore(payload)
    #expect(overwritten.changed == ["\(fixture.mount)/app/a"])
    #expect(try fixture.rawData("app/a") == #"{"K":"old"}"#)
    #expect(try await fixture.root.metadata("\(fixture.mount)/app/a").currentVersion == 3)

    // --prefix limits the restore.
    var limited = VaultRestorer(vault: fixture.root, options: .init(dryRun: true, prefix: "app/b"))
    limited.options.force = false
    #expect(try await limited.restore(payload).unchanged == ["\(fixture.mount)/app/b"])
  }

  @Test func kvVersion1RoundTrips() async throws {
    let fixture = try await BackupFixture.make(version: 1)
    try fixture.vaultTesting.call("POST", "\(fixture.mount)/one", body: Self.nested)
    let payload = try await VaultExporter(vault: fixture.root).export(
      .init(mounts: [fixture.mount]))
    #expect(payload.secrets.count == 1)
    let test = try await BackupVerifier.restoreTest(payload, vault: fixture.root)
    #expect(test.compared == 1 && test.mismatches.isEmpty)
  }

  @Test func deniedPathMidWalkFailsWithoutWritingAFile() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("open/a", #"{"K":"1"}"#)
    try fixture.put("closed/b", #"{"K":"2"}"#)
    let rules = """
      path "\(fixture.mount)/metadata/" { capabilities = ["list"] }
      path "\(fixture.mount)/metadata/open/*" { capabilities = ["list", "read"] }
      path "\(fixture.mount)/data/*" { capabilities = ["read"] }
      path "sys/internal/ui/mounts/*" { capabilities = ["read"] }
      """
    let token = try fixture.vaultTesting.token(
      policy: VaultTesting.uniqueName("half"), rules: rules)
    let vault = VaultClient(
      configuration: VaultConfiguration(address: fixture.vaultTesting.address, token: token))
    let directory = try TemporaryDirectory.make(prefix: "lockstep-backup-denied")
    let creator = BackupCreator(
      scope: .init(mounts: [fixture.mount]),
      recipients: BackupRecipients(recipients: [fixture.recipient]),
      destinations: [.directory(directory)])
    let error = await #expect(throws: VaultError.self) { try await creator.run(vault: vault) }
    #expect(error?.exitStatus == .noPermission)
    #expect(error?.description.contains("closed") == true)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
  }

  @Test(.enabled(if: getuid() == 0)) func diskFullLeavesNoPartialFile() async throws {
    let fixture = try await BackupFixture.make()
    // ~200 KB of payload for a 64 KiB file system.
    let big = String(repeating: "x", count: 20_000)
    for index in 0..<10 { try fixture.put("big/\(index)", #"{"V":"\#(big)"}"#) }
    let directory = try TemporaryDirectory.make(prefix: "lockstep-backup-full")
    let mounted = try ChildProcess.run(
      "mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", directory])
    try #require(mounted.succeeded, "mount tmpfs: \(mounted.stderrText)")
    defer { _ = try? ChildProcess.run("umount", [directory]) }
    let creator = BackupCreator(
      scope: .init(mounts: [fixture.mount]),
      recipients: BackupRecipients(recipients: [fixture.recipient]),
      destinations: [.directory(directory)])
    let error = await #expect(throws: (any Error).self) {
      try await creator.run(vault: fixture.root)
    }
    #expect("\(error!)".contains("No space left on device"))
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
  }

  @Test func transitOnlyAndMissingRecipientsAreRefused() throws {
    #expect(throws: BackupError.transitOnly) {
      try BackupRecipients(parsing: ["vault-transit:transit/backup"]).validate()
    }
    #expect(throws: BackupError.noRecipients) { try BackupRecipients(parsing: []).validate() }
    #expect(throws: BackupError.invalidRecipient("age1xyz")) {
      try BackupRecipients(parsing: ["age1xyz"])
    }
    #expect(BackupError.transitOnly.exitStatus == .usage)
  }

  @Test func transitRecipientWrapsAndUnwrapsThroughVault() async throws {
    let fixture = try await BackupFixture.make()
    let transit = VaultTesting.uniqueName("transit")
    try fixture.vaultTesting.call("POST", "sys/mounts/\(transit)", body: #"{"type":"transit"}"#)
    try fixture.vaultTesting.call("POST", "\(transit)/keys/backup", body: "{}")
    try fixture.put("t/a", #"{"K":"v"}"#)
    let creator = BackupCreator(
      scope: .init(mounts: [fixture.mount]),
      recipients: try BackupRecipients(
        parsing: [fixture.recipientText, "vault-transit:\(transit)/backup"]),
      destinations: [.directory(try TemporaryDirectory.make(prefix: "lockstep-transit"))])
    let result = try await creator.run(vault: fixture.root)
    let bytes = try await BackupDestination.read(result.locations[0])
    // Opens through Transit alone, without the X25519 identity.
    let opened = try await BackupOpener(
      identities: [], trust: .init(allowUnsigned: true), transitVault: fixture.root,
      transitKey: "\(transit)/backup"
    ).open(bytes)
    #expect(opened.payload.secrets.count == 1)

    // The file does not choose where the operator's token goes: a stanza of another key is
    // never sent to Vault, even though that key would have decrypted it.
    await #expect(throws: EnvelopeError.noMatchingIdentity) {
      try await BackupOpener(
        identities: [], trust: .init(allowUnsigned: true), transitVault: fixture.root,
        transitKey: "\(transit)/other"
      ).open(bytes)
    }
    // A stanza that is not MOUNT/KEY LF vault:vN:… is a malformed header (65), not a trap.
    for body in ["no-slash", "a/b", "a/b\nvault:v1:abc\"}", "../x/y\nvault:v1:QQ==", "a/b\nplain"] {
      let forged = try EnvelopeFormat.encrypt(
        Array("x".utf8),
        to: [
          fixture.recipient,
          .prewrapped(type: EnvelopeHeader.Stanza.vaultTransit, body: Array(body.utf8)),
        ])
      let error = await #expect(throws: EnvelopeError.self) {
        try await BackupOpener(
          identities: [], trust: .init(allowUnsigned: true), transitVault: fixture.root,
          transitKey: "\(transit)/backup"
        ).open(forged)
      }
      #expect(error?.exitStatus == .dataError, "\(body)")
    }
  }

  @Test func rewrapAddsARecipientWithoutTouchingThePayload() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("r/a", #"{"K":"v"}"#)
    let payload = try await VaultExporter(vault: fixture.root).export(
      .init(mounts: [fixture.mount]))
    let creator = BackupCreator(
      scope: .init(mounts: []), recipients: BackupRecipients(recipients: [fixture.recipient]),
      destinations: [])
    let original = try await creator.encrypt(payload, vault: fixture.root)
    let second = try X25519KeyPair.generate()
    let rewrapped = try BackupRewrap.rewrap(
      original, identities: [.x25519(fixture.identity)],
      recipients: BackupRecipients(recipients: [.x25519(publicKey: second.publicKey)]),
      replace: false)
    let originalHeader = try EnvelopeHeader.read(from: MemoryStream(original))
    let newHeader = try EnvelopeHeader.read(from: MemoryStream(rewrapped))
    #expect(newHeader.stanzas.count == 2)
    #expect(
      Array(rewrapped.suffix(original.count - originalHeader.encoded.count))
        == Array(original.suffix(original.count - originalHeader.encoded.count)))
    for identity in [fixture.identity, second] {
      let opened = try await BackupOpener(
        identities: [.x25519(identity)], trust: .init(allowUnsigned: true)
      ).open(rewrapped)
      #expect(opened.payload.secrets.count == 1)
    }
    let replaced = try BackupRewrap.rewrap(
      original, identities: [.x25519(fixture.identity)],
      recipients: BackupRecipients(recipients: [.x25519(publicKey: second.publicKey)]),
      replace: true)
    await #expect(throws: EnvelopeError.noMatchingIdentity) {
      try await BackupOpener(
        identities: [.x25519(fixture.identity)], trust: .init(allowUnsigned: true)
      ).open(replaced)
    }
  }
}
