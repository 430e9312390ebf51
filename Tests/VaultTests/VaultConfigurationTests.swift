import Foundation
import HTTP
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

  @Test("a secret map goes to a JSON object and back with every value kept exactly")
  func secretMapJSONRoundTrip() throws {
    let text =
      #"{"a":"x\"y\\z\n\u00e9\ud83d\udd11\u0001","big":1e400,"f":1.0,"o":{"k":[1,true]},"s":"<&>"}"#
    let map = try SecretMap(jsonObject: SecretBytes(utf8: text))
    #expect(map.keys == ["a", "big", "f", "o", "s"])
    #expect(map.jsonKeys == ["big", "f", "o"])
    #expect(map["a"]?.unsafeUTF8String() == "x\"y\\z\né🔑\u{1}")
    #expect(map["big"]?.unsafeUTF8String() == "1e400")
    #expect(map["f"]?.unsafeUTF8String() == "1.0")
    let written = map.jsonObject()
    #expect(
      written.unsafeUTF8String()
        == #"{"a":"x\"y\\z\né🔑\u0001","big":1e400,"f":1.0,"o":{"k":[1,true]},"s":"<&>"}"#)
    #expect(try SecretMap(jsonObject: written) == map)
    #expect(throws: VaultError.invalidSecretData) {
      try SecretMap(jsonObject: SecretBytes(utf8: "[1]"))
    }
  }

  @Test("keys that Swift finds canonically equal stay two keys, as in Vault")
  func secretMapKeysAreBytes() throws {
    let map = try SecretMap(jsonObject: SecretBytes(utf8: "{\"\u{E9}\":\"1\",\"e\u{301}\":2}"))
    #expect(map.count == 2)
    #expect(map.isJSON("e\u{301}") && !map.isJSON("\u{E9}"))
    #expect(map["\u{E9}"]?.unsafeUTF8String() == "1")
  }

  @Test("a string field of a response is found by its key path and decoded")
  func responseStringField() {
    let body = #"{"data":{"ciphertext":"vault:v1:abc\/d","n":3,"e":""},"x":1}"#
    let response = HTTPResponse(
      status: 200, headers: [], body: SecretBytes(utf8: body), newConnections: 0)
    #expect(
      VaultClient.string(at: ["data", "ciphertext"], in: response)?.unsafeUTF8String()
        == "vault:v1:abc/d")
    #expect(VaultClient.string(at: ["data", "n"], in: response) == nil)
    #expect(VaultClient.string(at: ["data", "e"], in: response) == nil)
    #expect(VaultClient.string(at: ["nope"], in: response) == nil)
  }
}
