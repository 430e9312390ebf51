import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

/// `lockstep keygen/encrypt/decrypt` run as the built binary: stdout, stderr, exit codes,
/// file modes, and that a failed decryption leaves no output file.
@Suite struct EnvelopeCLITests {
  let directory: String

  init() throws { directory = try TemporaryDirectory.make(prefix: "envelope-cli") }

  func lockstep(_ arguments: [String], stdin: [UInt8] = []) throws -> ChildProcess.Result {
    try ChildProcess.run(
      Repository.lockstepBinary, arguments, stdin: SecretBytes(copying: stdin),
      timeout: .seconds(60))
  }

  func path(_ name: String) -> String { directory + "/" + name }

  func write(_ name: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
  }

  func read(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path(name))))
  }

  func mode(_ name: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path(name))[.posixPermissions] as! NSNumber)
      .intValue
  }

  @Test func keygenEncryptDecryptRoundTrip() throws {
    let keygen = try lockstep(["keygen", "--out", path("id.txt")])
    #expect(keygen.status == 0)
    let recipient = keygen.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(recipient.hasPrefix("lockstep1"))
    #expect(try mode("id.txt") == 0o600)
    #expect(!keygen.stdoutText.contains("SECRET-KEY"))
    // Refuses to overwrite.
    #expect(try lockstep(["keygen", "--out", path("id.txt")]).status == 64)

    let plaintext = Array((0..<200_000).map { UInt8($0 % 256) })
    try write("plain", plaintext)
    let encrypt = try lockstep([
      "encrypt", "--recipient", recipient, "--in", path("plain"), "--out", path("enc"),
    ])
    #expect(encrypt.status == 0, "\(encrypt.stderrText)")
    #expect(try mode("enc") == 0o600)
    let decrypt = try lockstep(["decrypt", path("enc"), "--identity", path("id.txt")])
    #expect(decrypt.status == 0)
    #expect(decrypt.stdout == plaintext)

    // stdin to stdout, too.
    let piped = try lockstep(["encrypt", "--recipient", recipient], stdin: plaintext)
    #expect(piped.status == 0)
    let back = try lockstep(["decrypt", "--identity", path("id.txt")], stdin: piped.stdout)
    #expect(back.stdout == plaintext)
  }

  @Test func wrongIdentityExits77AndTamperingExits2WithoutOutput() throws {
    #expect(try lockstep(["keygen", "--out", path("right")]).status == 0)
    #expect(try lockstep(["keygen", "--out", path("wrong")]).status == 0)
    let recipient = try String(decoding: read("right"), as: UTF8.self)
      .split(separator: "\n").first { $0.hasPrefix("# recipient: ") }!
      .dropFirst("# recipient: ".count)
    let encrypted = try lockstep(
      ["encrypt", "--recipient", String(recipient)], stdin: Array(repeating: 7, count: 150_000))
    try write("enc", encrypted.stdout)

    let wrong = try lockstep([
      "decrypt", path("enc"), "--identity", path("wrong"), "--out", path("out"),
    ])
    #expect(wrong.status == 77)
    #expect(
      wrong.stderrText
        == "lockstep: the backup could not be decrypted: wrong identity or passphrase, or the file was altered\n"
    )
    #expect(!FileManager.default.fileExists(atPath: path("out")))

    var tampered = encrypted.stdout
    tampered[tampered.count - 100] ^= 1
    try write("tampered", tampered)
    let altered = try lockstep([
      "decrypt", path("tampered"), "--identity", path("right"), "--out", path("out"),
    ])
    #expect(altered.status == 2)
    #expect(altered.stderrText.contains("chunk 2 of the payload failed authentication"))
    // The first two chunks had been written to the temporary file: it is gone, and nothing
    // appeared under the final name.
    #expect(!FileManager.default.fileExists(atPath: path("out")))
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory).allSatisfy {
        !$0.hasSuffix(".tmp")
      })
  }

  @Test func passphraseSigningAndLegacyFiles() throws {
    try write("pass", Array("a long passphrase\n".utf8))
    #expect(try lockstep(["keygen", "--signing", "--out", path("sign.key")]).status == 0)
    #expect(try mode("sign.key") == 0o600)
    let encrypted = try lockstep(
      ["encrypt", "--passphrase-file", path("pass"), "--sign-key", path("sign.key")],
      stdin: Array("KEY=VALUE\n".utf8))
    #expect(encrypted.status == 0)
    try write("enc", encrypted.stdout)
    let decrypted = try lockstep([
      "decrypt", path("enc"), "--passphrase-file", path("pass"), "--verify-key",
      path("sign.key.pub"),
    ])
    #expect(decrypted.status == 0)
    #expect(decrypted.stdoutText == "KEY=VALUE\n")
    #expect(!decrypted.stderrText.contains("a long passphrase"))

    // A legacy file from the openssl binary, opened by the same passphrase file.
    try write("env", Array("SESSION_SECRET=abc\n".utf8))
    let made = try ChildProcess.run(
      "openssl",
      [
        "enc", "-aes-256-cbc", "-salt", "-pbkdf2", "-in", path("env"), "-out", path("legacy"),
        "-pass", "file:" + path("pass"),
      ])
    #expect(made.succeeded)
    let legacy = try lockstep([
      "decrypt", path("legacy"), "--passphrase-file", path("pass"), "--out", path("restored"),
    ])
    #expect(legacy.status == 0)
    #expect(try read("restored") == Array("SESSION_SECRET=abc\n".utf8))
    #expect(legacy.stderrText.contains("legacy openssl file (key derivation: pbkdf2)"))
  }

  /// A full disk (here /dev/full, which fails every write with ENOSPC) is one sentence and
  /// exit 1, not a crash or a silent short file.
  @Test func diskFullIsReported() throws {
    let keygen = try lockstep(["keygen", "--out", path("id")])
    let recipient = keygen.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    try write("plain", Array(repeating: 1, count: 300_000))
    let result = try ChildProcess.run(
      "bash",
      [
        "-c", "exec \"$0\" encrypt --recipient \"$1\" --in \"$2\" > /dev/full",
        Repository.lockstepBinary, recipient, path("plain"),
      ])
    #expect(result.status == 1)
    #expect(result.stderrText == "lockstep: could not write stdout: No space left on device\n")
  }
}
