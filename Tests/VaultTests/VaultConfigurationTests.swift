import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Vault

@Suite("Vault settings as the vault CLI reads them")
struct VaultConfigurationTests {
  @Test("VAULT_TOKEN wins over ~/.vault-token, which is read without its newline")
  func tokenSources() throws {
    let home = try TemporaryDirectory.make(prefix: "home")
    defer { try? FileManager.default.removeItem(atPath: home) }
    try "file-token\n".write(toFile: home + "/.vault-token", atomically: false, encoding: .utf8)
    let fromFile = try VaultConfiguration.fromEnvironment(
      ["VAULT_ADDR": "http://127.0.0.1:8200/"], homeDirectory: home)
    #expect(fromFile.token == SecretBytes(utf8: "file-token"))
    #expect(fromFile.address == "http://127.0.0.1:8200")
    let fromEnv = try VaultConfiguration.fromEnvironment(
      ["VAULT_TOKEN": "env-token"], homeDirectory: home)
    #expect(fromEnv.token == SecretBytes(utf8: "env-token"))
    #expect(fromEnv.address == "https://127.0.0.1:8200")
    let none = try VaultConfiguration.fromEnvironment([:], homeDirectory: home + "/nowhere")
    #expect(none.token == nil)
  }

  @Test("TLS verification is off only when VAULT_SKIP_VERIFY says so")
  func skipVerify() throws {
    let home = "/nonexistent"
    #expect(try !VaultConfiguration.fromEnvironment([:], homeDirectory: home).skipVerify)
    #expect(
      try !VaultConfiguration.fromEnvironment(["VAULT_SKIP_VERIFY": "false"], homeDirectory: home)
        .skipVerify)
    #expect(
      try VaultConfiguration.fromEnvironment(["VAULT_SKIP_VERIFY": "1"], homeDirectory: home)
        .skipVerify)
    let tls = try VaultConfiguration.fromEnvironment(
      ["VAULT_CACERT": "/ca.pem", "VAULT_CAPATH": "/certs", "VAULT_NAMESPACE": "team"],
      homeDirectory: home)
    #expect(tls.caFile == "/ca.pem" && tls.caPath == "/certs" && tls.namespace == "team")
  }

  @Test("the JSON reader decodes escapes and surrogate pairs into secret bytes")
  func jsonStrings() throws {
    let json = #"{"data":{"a":"x\"y\\z\n\u00e9\ud83d\udd11","n":42,"o":{"k":[1,true]}}}"#
    let values = try Array(json.utf8).withUnsafeBytes { bytes in
      let span = try #require(try JSONParser.span(bytes, path: ["data"]))
      return try JSONParser.memberSpans(bytes, object: span).map {
        $0.node.secret(in: bytes, span: $0.span).unsafeUTF8String()
      }
    }
    #expect(values == ["x\"y\\z\né🔑", "42", #"{"k":[1,true]}"#])
    #expect(throws: JSONParser.Malformed.self) {
      try Array(#"{"a":"#.utf8).withUnsafeBytes { try JSONParser.parse($0) }
    }
  }
}
