import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

/// `lockstep backup rewrap` as the built binary: removal by key and of passphrases, exit
/// codes and one-line refusals that leave the file untouched, and an atomic replacement
/// that keeps the payload bytes and the file mode.
@Suite(
  "backup rewrap (binary)",
  .enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
struct BackupRewrapCLITests {
  let directory: String
  let a: X25519KeyPair
  let b: X25519KeyPair

  init() throws {
    directory = try TemporaryDirectory.make(prefix: "rewrap-cli")
    a = try X25519KeyPair.generate()
    b = try X25519KeyPair.generate()
    for (name, pair) in [("a.txt", a), ("b.txt", b)] {
      _ = FileManager.default.createFile(
        atPath: path(name), contents: Data(KeyFile.identityText(pair).utf8),
        attributes: [.posixPermissions: 0o600])
    }
    for (name, text) in [("old.pass", "old passphrase\n"), ("new.pass", "new passphrase\n")] {
      _ = FileManager.default.createFile(
        atPath: path(name), contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    }
  }

  func path(_ name: String) -> String { directory + "/" + name }

  func text(_ pair: X25519KeyPair) -> String { Recipient.encode(x25519PublicKey: pair.publicKey) }

  func lockstep(_ arguments: [String]) throws -> ChildProcess.Result {
    try ChildProcess.run(Repository.lockstepBinary, arguments, timeout: .seconds(60))
  }

  func read(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path(name))))
  }

  func write(_ name: String, _ bytes: [UInt8]) throws {
    _ = FileManager.default.createFile(
      atPath: path(name), contents: Data(bytes), attributes: [.posixPermissions: 0o600])
  }

  func payload(_ bytes: [UInt8]) throws -> [UInt8] {
    Array(bytes.dropFirst(try EnvelopeHeader.read(from: MemoryStream(bytes)).encoded.count))
  }

  func opens(_ name: String, _ key: [String]) throws -> Bool {
    try lockstep(["decrypt", path(name)] + key).status == 0
  }

  @Test func removesARecipientAndAPassphraseInPlace() throws {
    let envelope = try EnvelopeFormat.encrypt(
      CryptoRandom.bytes(count: 300_000),
      to: [
        .x25519(publicKey: a.publicKey), .x25519(publicKey: b.publicKey),
        .passphrase(
          SecretBytes(utf8: "old passphrase"), Argon2idParameters(iterations: 1, memoryKiB: 64)),
      ])
    try write("backup.lsb", envelope)

    let removed = try lockstep([
      "backup", "rewrap", "--yes", path("backup.lsb"), "--identity", path("a.txt"),
      "--remove-recipient",
      text(b), "--remove-passphrase", "--new-passphrase-file", path("new.pass"),
    ])
    #expect(removed.status == 0, "\(removed.stderrText)")
    #expect(removed.stdoutText == path("backup.lsb") + "\n")
    let rewrapped = try read("backup.lsb")
    #expect(try payload(rewrapped) == payload(envelope))
    let mode =
      try FileManager.default.attributesOfItem(atPath: path("backup.lsb"))[
        .posixPermissions] as? NSNumber
    #expect(mode?.intValue == 0o600)
    // The temporary file was renamed over the backup: nothing else is left.
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        == ["a.txt", "b.txt", "backup.lsb", "new.pass", "old.pass"])
    #expect(try opens("backup.lsb", ["--identity", path("a.txt")]))
    #expect(try !opens("backup.lsb", ["--identity", path("b.txt")]))
    #expect(try !opens("backup.lsb", ["--passphrase-file", path("old.pass")]))
    #expect(try opens("backup.lsb", ["--passphrase-file", path("new.pass")]))

    // Removing b again: not a recipient, exit 64, one line, the file unchanged.
    let again = try lockstep([
      "backup", "rewrap", "--yes", path("backup.lsb"), "--identity", path("a.txt"),
      "--remove-recipient",
      text(b),
    ])
    #expect(again.status == ExitStatus.usage.rawValue)
    #expect(
      again.stderrText
        == "lockstep: \(text(b)) is not a recipient of this backup; nothing was changed.\n")
    #expect(try read("backup.lsb") == rewrapped)

    // --recipient replaces the set and combines with no removal.
    let mixed = try lockstep([
      "backup", "rewrap", "--yes", path("backup.lsb"), "--identity", path("a.txt"), "--recipient",
      text(b), "--remove-recipient", text(a),
    ])
    #expect(mixed.status == ExitStatus.usage.rawValue)
    #expect(try read("backup.lsb") == rewrapped)
  }

  /// A file written before format version 2: rewrapping upgrades it, but removing a
  /// recipient whose stanza the given identity does not open is refused with exit 65 and a
  /// pointer to --recipient.
  @Test func version1FileWithoutTagsSaysToReplaceTheSet() throws {
    let fileKey = SecretBytes.random(count: 32)
    let sink = MemoryStream()
    let writer = try EnvelopeWriter(
      to: sink, recipients: [.x25519(publicKey: a.publicKey), .x25519(publicKey: b.publicKey)],
      fileKey: fileKey)
    try writer.write(Array("payload".utf8))
    try writer.finish()
    let old = try BackupRewrapTests.version1(sink.bytes, fileKey: fileKey)
    try write("old.lsb", old)

    // A no-op add upgrades the file to version 2 and warns that b's stanza stays untagged.
    let upgraded = try lockstep([
      "backup", "rewrap", "--yes", path("old.lsb"), "--identity", path("a.txt"), "--add-recipient",
      text(a),
    ])
    #expect(upgraded.status == 0, "\(upgraded.stderrText)")
    #expect(upgraded.stderrText.hasPrefix("lockstep: warning: 1 X25519 stanza(s)"))
    let version2 = try read("old.lsb")
    #expect(try EnvelopeHeader.read(from: MemoryStream(version2)).version == 2)
    #expect(try payload(version2) == payload(old))

    let refused = try lockstep([
      "backup", "rewrap", "--yes", path("old.lsb"), "--identity", path("a.txt"),
      "--remove-recipient",
      text(b),
    ])
    #expect(refused.status == ExitStatus.dataError.rawValue)
    let lines = refused.stderrText.split(separator: "\n")
    #expect(lines.count == 1)
    #expect(lines.first?.contains("use --recipient to replace the whole set") == true)
    #expect(try read("old.lsb") == version2)

    // Replacing the set works and upgrades the file to version 2.
    let replaced = try lockstep([
      "backup", "rewrap", "--yes", path("old.lsb"), "--identity", path("a.txt"), "--recipient",
      text(a),
    ])
    #expect(replaced.status == 0, "\(replaced.stderrText)")
    #expect(try EnvelopeHeader.read(from: MemoryStream(try read("old.lsb"))).version == 2)
    #expect(try !opens("old.lsb", ["--identity", path("b.txt")]))
    #expect(try opens("old.lsb", ["--identity", path("a.txt")]))
  }
}
