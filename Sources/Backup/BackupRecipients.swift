import Crypto
import Envelope
import Foundation
import HTTP
import LockstepCore
import Vault

/// Who may open a backup: X25519 recipients, a passphrase, and Vault Transit keys, which
/// may be added but never be the only way in.
public struct BackupRecipients: Sendable {
  public var recipients: [Recipient]
  /// `mount/key` of Transit keys that wrap the file key too.
  public var transitKeys: [String]

  public static let transitPrefix = "vault-transit:"

  public init(recipients: [Recipient] = [], transitKeys: [String] = []) {
    self.recipients = recipients
    self.transitKeys = transitKeys
  }

  /// Parses `lockstep1…` and `vault-transit:MOUNT/KEY` strings; a passphrase comes apart.
  public init(parsing texts: [String], passphrase: SecretBytes? = nil) throws {
    var recipients: [Recipient] = []
    var transit: [String] = []
    for text in texts {
      if text.hasPrefix(Self.transitPrefix) {
        let key = String(text.dropFirst(Self.transitPrefix.count))
        guard key.contains("/"), !key.hasPrefix("/"), !key.hasSuffix("/") else {
          throw BackupError.invalidRecipient(text)
        }
        transit.append(key)
      } else {
        do { recipients.append(try Recipient(parsing: text)) } catch {
          throw BackupError.invalidRecipient(text)
        }
      }
    }
    if let passphrase { recipients.append(.passphrase(passphrase)) }
    self.init(recipients: recipients, transitKeys: transit)
  }

  public func validate() throws {
    if recipients.isEmpty && transitKeys.isEmpty { throw BackupError.noRecipients }
    if recipients.isEmpty { throw BackupError.transitOnly }
  }

  /// The recipients for an `EnvelopeWriter` given `fileKey`: Transit keys wrap it through
  /// Vault (`transit/encrypt`) into stanzas of type 3 whose body is
  /// `mount/key` + LF + the Transit ciphertext (`vault:v1:…`).
  public func resolved(fileKey: SecretBytes, vault: VaultClient?) async throws -> [Recipient] {
    var result = recipients
    for key in transitKeys {
      guard let vault else { throw BackupError.usage("A Transit recipient needs Vault.") }
      let (mount, name) = Self.split(key)
      let body = SecretBuffer(capacity: 80)
      body.append("{\"plaintext\":\"")
      fileKey.withUnsafeBytes { Base64.encode($0, into: body) }
      body.append("\"}")
      let response = try await vault.request(
        .post, "\(mount)/encrypt/\(name)", body: .secret(body.takeSecret()))
      let ciphertext = VaultClient.string(at: ["data", "ciphertext"], in: response)?
        .unsafeUTF8String()
      guard let ciphertext else {
        throw BackupError.invalidResponse(path: "\(mount)/encrypt/\(name)")
      }
      result.append(
        .prewrapped(
          type: EnvelopeHeader.Stanza.vaultTransit, body: Array("\(key)\n\(ciphertext)".utf8)))
    }
    return result
  }

  /// The file key from the first Transit stanza Vault will decrypt, or nil.
  public static func unwrapWithTransit(_ header: EnvelopeHeader, vault: VaultClient) async
    -> SecretBytes?
  {
    for stanza in header.stanzas where stanza.type == EnvelopeHeader.Stanza.vaultTransit {
      guard let newline = stanza.body.firstIndex(of: 0x0A) else { continue }
      let key = String(decoding: stanza.body[..<newline], as: UTF8.self)
      let ciphertext = String(decoding: stanza.body[(newline + 1)...], as: UTF8.self)
      let (mount, name) = split(key)
      let body = HTTPBody.text("{\"ciphertext\":\"\(ciphertext)\"}")
      guard
        let response = try? await vault.request(.post, "\(mount)/decrypt/\(name)", body: body)
      else { continue }
      let key32 = VaultClient.string(at: ["data", "plaintext"], in: response)?
        .withUnsafeBytes { Base64.decode($0) }
      if let key32, key32.count == 32 { return key32 }
    }
    return nil
  }

  private static func split(_ key: String) -> (mount: String, name: String) {
    let slash = key.lastIndex(of: "/")!
    return (String(key[..<slash]), String(key[key.index(after: slash)...]))
  }
}
