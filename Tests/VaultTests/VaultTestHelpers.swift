import Foundation
import LockstepCore
import TestSupport
import Vault

extension VaultTesting {
  /// A client for this server holding `token` (root by default).
  func client(token: SecretBytes? = nil, parallelism: Int = 4) -> VaultClient {
    VaultClient(
      configuration: VaultConfiguration(
        address: address, token: token ?? SecretBytes(utf8: VaultTesting.rootToken),
        retryDeadline: .seconds(3), parallelism: parallelism))
  }

  /// A policy file from policies/vault with `secret/` replaced by `mount/`.
  func policy(_ file: String, mount: String) throws -> String {
    let text = try String(
      contentsOfFile: Repository.root + "/policies/vault/\(file).hcl", encoding: .utf8)
    return text.replacingOccurrences(of: "\"secret/", with: "\"\(mount)/")
  }
}

func secretMap(_ pairs: KeyValuePairs<String, String>) -> SecretMap {
  var map = SecretMap()
  for (key, value) in pairs { map[key] = SecretBytes(utf8: value) }
  return map
}

extension SecretMap {
  /// Test values only.
  func text(_ key: String) -> String? { self[key]?.unsafeUTF8String() }
}
