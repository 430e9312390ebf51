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

  func makeLegacy(_ plaintext: String, flags: [String], passphrase: String = "runbook pass")
    throws -> [UInt8]
  {
    let directory = try TemporaryDirectory.make(prefix: "legacy")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try Data((passphrase + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/pass"))
    try Data(plaintext.utf8).write(to: URL(fileURLWithPath: directory + "/in"))
    let result = try ChildProcess.run(
      "openssl",
      [
        "enc", "-aes-256-cbc", "-salt", "-in", directory + "/in", "-out", directory + "/out",
        "-pass", "file:" + directory + "/pass",
      ] + flags)
    #expect(result.succeeded, "openssl: \(result.stderrText)")
    return Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/out")))
  }

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
    let file = try makeLegacy(Self.envFile, flags: ["-pbkdf2"])
    let error = #expect(throws: EnvelopeError.legacyWrongPassphrase) {
      try LegacyOpenSSLFile.decrypt(file, passphrase: SecretBytes(utf8: "not it"))
    }
    #expect(error?.exitStatus == .noPermission)
  }

  /// Correct padding is not enough: a plaintext that is neither JSON nor KEY=VALUE lines is
  /// refused when the derivation was guessed, accepted when it was named.
  @Test func unparseablePlaintextNeedsAnExplicitKeyDerivation() throws {
    let file = try makeLegacy("just some prose, not a secrets file", flags: ["-pbkdf2"])
    #expect(throws: EnvelopeError.legacyWrongPassphrase) {
      try LegacyOpenSSLFile.decrypt(file, passphrase: SecretBytes(utf8: "runbook pass"))
    }
    #expect(
      try LegacyOpenSSLFile.decrypt(
        file, passphrase: SecretBytes(utf8: "runbook pass"), kdf: .pbkdf2
      ).plaintext.unsafeUTF8String() == "just some prose, not a secrets file")
  }

  @Test func decryptionFrontDoorTellsLegacyFromEnvelope() throws {
    let file = try makeLegacy(Self.envFile, flags: ["-md", "md5"])
    let sink = MemoryStream()
    let outcome = try Decryption.decrypt(
      from: MemoryStream(file), to: sink, identities: [],
      passphrase: SecretBytes(utf8: "runbook pass"))
    guard case .legacy(.md5) = outcome else {
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
