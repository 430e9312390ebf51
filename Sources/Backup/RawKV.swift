import Foundation
import HTTP
import LockstepCore
import Vault

/// KV reads and writes that keep a secret's `data` object as the exact JSON text Vault
/// sends, through the Vault client's generic `request` (its retries, error sentences and
/// kept-alive connections). `VaultClient.read` turns non-string values into text, which
/// would make a restored nested object come back as a string.
enum RawKV {
  static func dataPath(_ mount: VaultMount, _ path: String) -> String {
    mount.kvVersion == 2 ? mount.path + "data/" + path : mount.path + path
  }

  /// nil when there is no readable version (absent, deleted or destroyed).
  static func read(_ vault: VaultClient, mount: VaultMount, path: String, version: Int?)
    async throws -> BackupPayload.Secret?
  {
    let response: HTTPResponse
    do {
      response = try await vault.request(
        .get, dataPath(mount, path), query: version.map { "version=\($0)" })
    } catch VaultError.notFound {
      return nil
    }
    return try response.body.withUnsafeBytes { bytes in
      let dataKeys = mount.kvVersion == 2 ? ["data", "data"] : ["data"]
      guard let span = try? RawJSON.span(bytes, path: dataKeys),
        bytes[span.lowerBound] == UInt8(ascii: "{")
      else {
        // KV v2 answers 200 with `"data": null` for a deleted version on some servers.
        if mount.kvVersion == 2, (try? RawJSON.span(bytes, path: ["data", "data"])) != nil {
          return nil
        }
        throw BackupError.invalidResponse(path: mount.path + path)
      }
      let data = SecretBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[span]))
      var number: Int?
      var created: String?
      var custom: [String: String] = [:]
      if mount.kvVersion == 2, let metaSpan = try? RawJSON.span(bytes, path: ["data", "metadata"]),
        let meta = try? JSONSerialization.jsonObject(
          with: Data(UnsafeRawBufferPointer(rebasing: bytes[metaSpan]))) as? [String: Any]
      {
        number = meta["version"] as? Int
        created = meta["created_time"] as? String
        for (key, value) in meta["custom_metadata"] as? [String: Any] ?? [:] {
          if let text = value as? String { custom[key] = text }
        }
      }
      return BackupPayload.Secret(
        mount: mount.path, path: path, kvVersion: mount.kvVersion, version: number,
        createdTime: created, customMetadata: custom, state: .live, data: data)
    }
  }

  /// Writes `data` (a JSON object's text) as the new version; `cas` on KV v2.
  static func write(
    _ vault: VaultClient, mount: VaultMount, path: String, data: SecretBytes, cas: Int?
  ) async throws {
    let buffer = SecretBuffer(capacity: data.count + 64)
    if mount.kvVersion == 2 {
      buffer.append(text: cas.map { "{\"options\":{\"cas\":\($0)},\"data\":" } ?? "{\"data\":")
      buffer.append(data)
      buffer.append(UInt8(ascii: "}"))
    } else {
      buffer.append(data)
    }
    _ = try await vault.request(.post, dataPath(mount, path), body: .secret(buffer.takeSecret()))
  }
}
