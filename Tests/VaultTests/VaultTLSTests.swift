import Foundation
import HTTP
import LockstepCore
import TestSupport
import Testing
import Vault

/// Vault over HTTPS, against OpenBao's `-dev-tls` server: `VAULT_CACERT` and `VAULT_CAPATH`
/// are honoured, an unknown CA is one TLS sentence, and `VAULT_SKIP_VERIFY` only when set.
@Suite("Vault over TLS against a real OpenBao -dev-tls")
struct VaultTLSTests {
  static func client(_ environment: [String: String]) throws -> VaultClient {
    var configuration = try VaultConfiguration.fromEnvironment(
      environment, homeDirectory: "/nonexistent")
    configuration.retryDeadline = .seconds(2)
    return VaultClient(configuration: configuration)
  }

  @Test func caFileCAPathUnknownCAAndSkipVerify() async throws {
    try await withLocalService(.vaultTLS) { service in
      let address = "https://127.0.0.1:\(service.port)"
      let base = ["VAULT_ADDR": address, "VAULT_TOKEN": VaultTesting.rootToken]

      // VAULT_CACERT: a round trip through the KV engine the dev server mounts at secret/.
      let trusted = try Self.client(base.merging(["VAULT_CACERT": service.tlsCAFile]) { $1 })
      #expect(try await !trusted.health().sealed)
      var data = SecretMap()
      data["K"] = SecretBytes(utf8: "over-tls")
      _ = try await trusted.write("secret/tls/check", data)
      #expect(
        try await trusted.read("secret/tls/check").data["K"]?.unsafeUTF8String() == "over-tls")

      // VAULT_CAPATH: a directory of hashed CA certificates (`openssl rehash`).
      let caDirectory = try TemporaryDirectory.make(prefix: "lockstep-vault-capath")
      try FileManager.default.copyItem(atPath: service.tlsCAFile, toPath: caDirectory + "/ca.pem")
      let rehash = try ChildProcess.run("openssl", ["rehash", caDirectory], timeout: .seconds(30))
      #expect(rehash.succeeded, "openssl rehash: \(rehash.stderrText)")
      let byPath = try Self.client(base.merging(["VAULT_CAPATH": caDirectory]) { $1 })
      #expect(try await byPath.read("secret/tls/check").data["K"] != nil)

      // No CA given: the system store does not know OpenBao's CA, so one TLS sentence.
      let untrusted = try Self.client(base)
      let error = await #expect(throws: VaultError.self) {
        try await untrusted.read("secret/tls/check")
      }
      guard case .unreachable(_, let cause)? = error, case .tls = cause else {
        Issue.record("expected a TLS failure, got \(String(describing: error))")
        return
      }
      #expect(error?.description.hasPrefix("Cannot reach Vault at \(address): TLS failure") == true)
      #expect(error?.exitStatus == .unavailable)

      // VAULT_SKIP_VERIFY only when set to a true value.
      let notSkipped = try Self.client(base.merging(["VAULT_SKIP_VERIFY": "false"]) { $1 })
      await #expect(throws: VaultError.self) { try await notSkipped.read("secret/tls/check") }
      let skipped = try Self.client(base.merging(["VAULT_SKIP_VERIFY": "true"]) { $1 })
      #expect(try await skipped.read("secret/tls/check").data["K"] != nil)
    }
  }
}
