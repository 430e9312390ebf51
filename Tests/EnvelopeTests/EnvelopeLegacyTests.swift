import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

/// The runbook's `openssl enc -aes-256-cbc -salt` files, made here by the real `openssl`
/// binary with the passphrase given as `-pass file:` (never in argv).
@Suite struct EnvelopeLegacyTests {
  static let envFile =
    "DATABASE_URL=postgres://aura@db/aura_sign\nSESSION_SECRET=s3cr3t\n# note\nexport REDIS_URL=redis://r:6379/0\n"
  static let jsonFile = #"{"data":{"SESSION_SECRET":"abc","IRON_SESSION_PASSWORD":"def"}}"#

  func makeLegacy(
    _ plaintext: String, flags: [String], passphrase: String = "runbook pass",
    salt: String? = nil
  ) throws -> [UInt8] {
    try makeLegacy(
      Array(plaintext.utf8), flags: flags, passphraseFile: Array((passphrase + "\n").utf8),
      salt: salt)
  }

  /// `openssl enc` of `plaintext` with the passphrase file's exact bytes; a fixed `salt`
  /// (hex, `-S`) makes the file, and so which derivations give valid padding, reproducible.
  func makeLegacy(
    _ plaintext: [UInt8], flags: [String], passphraseFile: [UInt8], salt: String? = nil
  ) throws -> [UInt8] {
    let directory = try TemporaryDirectory.make(prefix: "legacy")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try Data(passphraseFile).write(to: URL(fileURLWithPath: directory + "/pass"))
    try Data(plaintext).write(to: URL(fileURLWithPath: directory + "/in"))
    let result = try ChildProcess.run(
      "openssl",
      [
        "enc", "-aes-256-cbc", "-salt", "-in", directory + "/in", "-out", directory + "/out",
        "-pass", "file:" + directory + "/pass",
      ] + flags + (salt.map { ["-S", $0] } ?? []))
    #expect(result.succeeded, "openssl: \(result.stderrText)")
    let output = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/out")))
    guard let salt, !output.starts(with: LegacyOpenSSLFile.magic) else { return output }
    // OpenSSL 3.0 writes no `Salted__` header when -S gives the salt; add the header that
    // the same command writes with a random salt.
    var bytes = LegacyOpenSSLFile.magic
    var index = salt.startIndex
    while index < salt.endIndex {
      let next = salt.index(index, offsetBy: 2)
      bytes.append(UInt8(salt[index..<next], radix: 16)!)
      index = next
    }
    return bytes + output
  }

  /// Whether the real `openssl enc -d` opens `file` with a passphrase file of these bytes.
  func opensslOpens(_ file: [UInt8], flags: [String], passphraseFile: [UInt8]) throws -> Bool {
    let directory = try TemporaryDirectory.make(prefix: "legacy-d")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try Data(passphraseFile).write(to: URL(fileURLWithPath: directory + "/pass"))
    try Data(file).write(to: URL(fileURLWithPath: directory + "/in"))
    return try ChildProcess.run(
      "openssl",
      [
        "enc", "-d", "-aes-256-cbc", "-in", directory + "/in", "-out", directory + "/out",
        "-pass", "file:" + directory + "/pass",
      ] + flags
    ).succeeded
  }

  /// lockstep's reading of a passphrase file holding these bytes.
  func lockstepPassphrase(_ passphraseFile: [UInt8]) throws -> SecretBytes {
    let directory = try TemporaryDirectory.make(prefix: "legacy-pass")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try Data(passphraseFile).write(to: URL(fileURLWithPath: directory + "/pass"))
    return try KeyFile.readPassphrase(path: directory + "/pass")
  }

  /// Not text: every byte value, twice, in a fixed order (like a tarball or a gzip).
  static let binary: [UInt8] = (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
  static let fixedSalt = "0011223344556677"

  @Test(arguments: [
    (["-md", "md5"], LegacyOpenSSLFile.KeyDerivation.md5),
    (["-md", "sha256"], .sha256),
    ([], .sha256),
    (["-pbkdf2"], .pbkdf2),
    (["-pbkdf2", "-md", "sha256"], .pbkdf2),
  ])
  func autodetectsTheKeyDerivation(_ flags: [String], _ expected: LegacyOpenSSLFile.KeyDerivation)
    throws
  {
    for plaintext in [Self.envFile, Self.jsonFile] {
      let file = try makeLegacy(plaintext, flags: flags)
      #expect(LegacyOpenSSLFile.isLegacy(file))
      let (opened, kdf) = try LegacyOpenSSLFile.decrypt(
        file, passphrase: SecretBytes(utf8: "runbook pass"))
      #expect(opened.unsafeUTF8String() == plaintext)
      #expect(kdf == expected)
      // Naming the derivation works too, and naming the wrong one fails.
      #expect(
        try LegacyOpenSSLFile.decrypt(
          file, passphrase: SecretBytes(utf8: "runbook pass"), kdf: expected
        ).plaintext.unsafeUTF8String() == plaintext)
    }
  }

  @Test func wrongPassphraseIsRefused() throws {
    // A fixed salt: with a random one a wrong key pads validly about 1 time in 85 (three
    // derivations), which lockstep would then open as noise, flagged binary.
    let file = try makeLegacy(Self.envFile, flags: ["-pbkdf2"], salt: Self.fixedSalt)
    let error = #expect(throws: EnvelopeError.legacyWrongPassphrase) {
      try LegacyOpenSSLFile.decrypt(file, passphrase: SecretBytes(utf8: "not it"))
    }
    #expect(error?.exitStatus == .noPermission)
  }

  /// Content that is neither JSON nor KEY=VALUE lines, with the right passphrase: the only
  /// derivation that pads opens it, named; never "wrong passphrase".
  @Test(arguments: [
    (["-pbkdf2"], LegacyOpenSSLFile.KeyDerivation.pbkdf2),
    (["-md", "sha256"], .sha256),
    (["-md", "md5"], .md5),
  ])
  func binaryContentOpensWithTheDerivationThatPads(
    _ flags: [String], _ expected: LegacyOpenSSLFile.KeyDerivation
  ) throws {
    let file = try makeLegacy(
      Self.binary, flags: flags, passphraseFile: Array("runbook pass\n".utf8),
      salt: Self.fixedSalt)
    let (opened, kdf) = try LegacyOpenSSLFile.decrypt(
      file, passphrase: SecretBytes(utf8: "runbook pass"))
    #expect(kdf == expected)
    #expect(opened.unsafeArray() == Self.binary)
    #expect(!LegacyOpenSSLFile.isText(opened))
    let sink = MemoryStream()
    let outcome = try Decryption.decrypt(
      from: MemoryStream(file), to: sink, identities: [],
      passphrase: SecretBytes(utf8: "runbook pass"))
    guard case .legacy(expected, binary: true) = outcome else {
      Issue.record("expected legacy \(expected), binary; got \(outcome)")
      return
    }
    #expect(sink.bytes == Self.binary)
  }

  /// Prose (text, not a secrets file) opens too, and is not flagged binary.
  @Test func textThatIsNotASecretsFileOpens() throws {
    let file = try makeLegacy(
      "just some prose, not a secrets file", flags: ["-pbkdf2"], salt: Self.fixedSalt)
    let (opened, kdf) = try LegacyOpenSSLFile.decrypt(
      file, passphrase: SecretBytes(utf8: "runbook pass"))
    #expect(kdf == .pbkdf2)
    #expect(opened.unsafeUTF8String() == "just some prose, not a secrets file")
    #expect(LegacyOpenSSLFile.isText(opened))
    #expect(
      try LegacyOpenSSLFile.decrypt(
        file, passphrase: SecretBytes(utf8: "runbook pass"), kdf: .pbkdf2
      ).plaintext.unsafeUTF8String() == "just some prose, not a secrets file")
  }

  /// The passphrase-file rule, byte for byte against OpenSSL 3.0: a CRLF file's passphrase
  /// keeps its CR; only the first 1023 bytes count; a NUL ends it. Each file openssl made
  /// opens in lockstep with the same passphrase file, and the files that differ only by
  /// what the rule drops or keeps behave in lockstep as they do in openssl.
  @Test func passphraseFilesAreReadAsOpenSSLReadsThem() throws {
    let crlf = Array("runbook pass\r\n".utf8)
    let lf = Array("runbook pass\n".utf8)
    let cr = Array("runbook pass\r".utf8)
    let file = try makeLegacy(
      Array(Self.envFile.utf8), flags: ["-pbkdf2"], passphraseFile: crlf, salt: Self.fixedSalt)
    // openssl: the CR is part of the passphrase.
    #expect(try opensslOpens(file, flags: ["-pbkdf2"], passphraseFile: cr))
    #expect(try !opensslOpens(file, flags: ["-pbkdf2"], passphraseFile: lf))
    // lockstep: the same.
    #expect(try lockstepPassphrase(crlf) == SecretBytes(copying: Array("runbook pass\r".utf8)))
    let opened = try LegacyOpenSSLFile.decrypt(file, passphrase: try lockstepPassphrase(crlf))
    #expect(opened.plaintext.unsafeUTF8String() == Self.envFile)
    #expect(throws: EnvelopeError.legacyWrongPassphrase) {
      try LegacyOpenSSLFile.decrypt(file, passphrase: try lockstepPassphrase(lf))
    }

    // 1500 bytes on the line: openssl uses the first 1023.
    let long = Array(repeating: UInt8(ascii: "k"), count: 1500) + [0x0A]
    let longFile = try makeLegacy(
      Array(Self.envFile.utf8), flags: ["-pbkdf2"], passphraseFile: long, salt: Self.fixedSalt)
    let first1023 = Array(repeating: UInt8(ascii: "k"), count: 1023)
    #expect(try opensslOpens(longFile, flags: ["-pbkdf2"], passphraseFile: first1023))
    #expect(try lockstepPassphrase(long) == SecretBytes(copying: first1023))
    #expect(
      try LegacyOpenSSLFile.decrypt(longFile, passphrase: try lockstepPassphrase(long))
        .plaintext.unsafeUTF8String() == Self.envFile)

    // A NUL ends the passphrase.
    let nul: [UInt8] = Array("runbook".utf8) + [0] + Array(" pass\n".utf8)
    let nulFile = try makeLegacy(
      Array(Self.envFile.utf8), flags: ["-pbkdf2"], passphraseFile: nul, salt: Self.fixedSalt)
    #expect(try opensslOpens(nulFile, flags: ["-pbkdf2"], passphraseFile: Array("runbook".utf8)))
    #expect(try lockstepPassphrase(nul) == SecretBytes(copying: Array("runbook".utf8)))
    #expect(
      try LegacyOpenSSLFile.decrypt(nulFile, passphrase: try lockstepPassphrase(nul))
        .plaintext.unsafeUTF8String() == Self.envFile)
  }

  @Test func decryptionFrontDoorTellsLegacyFromEnvelope() throws {
    let file = try makeLegacy(Self.envFile, flags: ["-md", "md5"])
    let sink = MemoryStream()
    let outcome = try Decryption.decrypt(
      from: MemoryStream(file), to: sink, identities: [],
      passphrase: SecretBytes(utf8: "runbook pass"))
    guard case .legacy(.md5, binary: false) = outcome else {
      Issue.record("expected a legacy md5 outcome, got \(outcome)")
      return
    }
    #expect(String(decoding: sink.bytes, as: UTF8.self) == Self.envFile)
    let envelope = try EnvelopeFormat.encrypt(
      Array("A=1\n".utf8), to: [.passphrase(SecretBytes(utf8: "pw"), .testing)])
    let sink2 = MemoryStream()
    let outcome2 = try Decryption.decrypt(
      from: MemoryStream(envelope), to: sink2, identities: [], passphrase: SecretBytes(utf8: "pw"))
    guard case .envelope = outcome2 else {
      Issue.record("expected an envelope outcome")
      return
    }
    #expect(sink2.bytes == Array("A=1\n".utf8))
  }
}
