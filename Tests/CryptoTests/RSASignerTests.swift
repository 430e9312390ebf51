import Crypto
import Foundation
import LockstepCore
import TestSupport
import Testing

/// RS256 (RSASSA-PKCS1-v1_5, SHA-256) is deterministic, so the `openssl` CLI, an
/// independent signer, must produce the very same bytes for the same key and message.
@Suite struct RSASignerTests {
  static func openssl(_ arguments: [String], in directory: String) throws -> [UInt8] {
    let result = try ChildProcess.run(
      "openssl", arguments, timeout: .seconds(60), directory: directory)
    guard result.succeeded else { throw UserError("openssl \(arguments[0]): \(result.stderrText)") }
    return result.stdout
  }

  @Test(arguments: [
    ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "key.pem"],
    ["genrsa", "-traditional", "-out", "key.pem", "2048"],
  ])
  func signsAsOpenSSLDoes(generate: [String]) throws {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-rsa")
    _ = try Self.openssl(generate, in: directory)
    let message = Array("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0".utf8)
    try Data(message).write(to: URL(fileURLWithPath: directory + "/message"))
    let expected = try Self.openssl(
      ["dgst", "-sha256", "-sign", "key.pem", "message"], in: directory)
    let pem = try #require(FileManager.default.contents(atPath: directory + "/key.pem"))
    let signer = try RSASigner(pem: SecretBytes(copying: [UInt8](pem)))
    #expect(try signer.sign(message) == expected)
    #expect(expected.count == 256)
  }

  @Test func notAnRSAKeyIsOneSentence() throws {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-rsa-ec")
    _ = try Self.openssl(
      ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem"],
      in: directory)
    let ec = try #require(FileManager.default.contents(atPath: directory + "/ec.pem"))
    #expect(throws: CryptoError.invalidKey("the private key is not an RSA key")) {
      try RSASigner(pem: SecretBytes(copying: [UInt8](ec)))
    }
    #expect(throws: CryptoError.invalidKey("no PEM private key found")) {
      try RSASigner(pem: SecretBytes(utf8: "not a key"))
    }
    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    #expect(throws: CryptoError.invalidKey("the private key is not an RSA key in PEM form")) {
      try RSASigner(pem: SecretBytes(utf8: garbage))
    }
  }
}
