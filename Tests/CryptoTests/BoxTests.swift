import Crypto
import Foundation
import LockstepCore
import TestSupport
import Testing

@Suite struct BoxTests {
  @Test func sealedBoxRoundTripAndWrongKey() throws {
    let recipient = try X25519KeyPair.generate()
    let message = SecretBytes.random(count: 32)
    let sealed = try SealedBox.seal(message, to: recipient.publicKey)
    #expect(sealed.count == 32 + SealedBox.overhead)
    #expect(try SealedBox.open(sealed, with: recipient) == message)
    #expect(throws: CryptoError.authenticationFailed) {
      try SealedBox.open(sealed, with: try X25519KeyPair.generate())
    }
    var altered = sealed
    altered[40] ^= 0x80
    #expect(throws: CryptoError.authenticationFailed) {
      try SealedBox.open(altered, with: recipient)
    }
  }

  /// The seeded form (used for the envelope's test vectors) is byte-for-byte libsodium's
  /// construction: `crypto_box_seal_open` opens it, and the same seed gives the same bytes.
  @Test func deterministicSealedBoxOpensWithLibsodium() throws {
    let recipient = try X25519KeyPair.generate()
    let message = SecretBytes.random(count: 32)
    let seed = SecretBytes.random(count: 32)
    let one = try SealedBox.seal(message, to: recipient.publicKey, ephemeralSeed: seed)
    let two = try SealedBox.seal(message, to: recipient.publicKey, ephemeralSeed: seed)
    #expect(one == two)
    #expect(try SealedBox.open(one, with: recipient) == message)
  }

  @Test func secretBoxRoundTrip() throws {
    let key = SecretBytes.random(count: 32)
    let message = SecretBytes(utf8: "SESSION_SECRET=abc")
    let sealed = try SecretBox.seal(message, key: key)
    #expect(try SecretBox.open(sealed, key: key) == message)
    #expect(sealed != (try SecretBox.seal(message, key: key)), "nonces are random")
    #expect(throws: CryptoError.authenticationFailed) {
      try SecretBox.open(sealed, key: SecretBytes.random(count: 32))
    }
    #expect(throws: CryptoError.invalidLength(what: "secretbox key", expected: 32, actual: 3)) {
      try SecretBox.seal(message, key: SecretBytes(copying: [1, 2, 3]))
    }
  }

  @Test func constantTimeCompare() {
    #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
    #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
    #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
    #expect(ConstantTime.equal([], []))
  }

  @Test func errorsAreOneSentenceWithoutSecrets() {
    #expect(
      CryptoError.authenticationFailed.description
        == "the data could not be decrypted: wrong key or passphrase, or the data was altered")
    #expect(CryptoError.authenticationFailed.exitStatus == .noPermission)
    #expect(CryptoError.invalidSignature.exitStatus == .mismatch)
  }

  /// `EVP_BytesToKey` and PBKDF2 agree with what the `openssl` binary itself derives
  /// (`openssl enc -P` prints the key and IV it would use), for each digest and mode.
  @Test(arguments: [["-md", "md5"], ["-md", "sha256"], ["-pbkdf2"]])
  func legacyKeyDerivationMatchesOpenSSLBinary(_ flags: [String]) throws {
    let directory = try TemporaryDirectory.make(prefix: "crypto-legacy")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let passFile = directory + "/pass"
    try Data("hunter2 correct horse".utf8).write(to: URL(fileURLWithPath: passFile))
    let result = try ChildProcess.run(
      "openssl",
      ["enc", "-aes-256-cbc", "-P", "-S", "0102030405060708", "-pass", "file:" + passFile]
        + flags)
    #expect(result.succeeded)
    var fields: [String: String] = [:]
    for line in result.stdoutText.split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1)
      if parts.count == 2 {
        fields[parts[0].trimmingCharacters(in: .whitespaces)] = String(parts[1]).lowercased()
      }
    }
    let passphrase = SecretBytes(utf8: "hunter2 correct horse")
    let salt: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
    let derived =
      flags == ["-pbkdf2"]
      ? try LegacyOpenSSL.pbkdf2(passphrase: passphrase, salt: salt)
      : try LegacyOpenSSL.bytesToKey(
        passphrase: passphrase, salt: salt,
        digest: flags[1] == "md5" ? .md5 : .sha256)
    #expect(fields["key"] == Hex.encode(derived.key.unsafeArray()))
    #expect(fields["iv"] == Hex.encode(derived.iv.unsafeArray()))
  }

  @Test func aesCBCRejectsBadPaddingAndOddLengths() throws {
    let key = SecretBytes.random(count: 32)
    let iv = SecretBytes.random(count: 16)
    #expect(throws: CryptoError.authenticationFailed) {
      try LegacyOpenSSL.decryptAES256CBC([1, 2, 3], key: key, iv: iv)
    }
    // A random block decrypts to valid padding with probability ~1/256; try a few blocks so
    // that at least one is refused.
    var refused = 0
    for _ in 0..<8 {
      do {
        _ = try LegacyOpenSSL.decryptAES256CBC(CryptoRandom.bytes(count: 32), key: key, iv: iv)
      } catch CryptoError.authenticationFailed { refused += 1 }
    }
    #expect(refused >= 6)
  }
}
