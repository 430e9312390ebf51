import Crypto
import Envelope
import Foundation
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
      let ciphertext = try await vault.transitEncrypt(mount: mount, key: name, plaintext: fileKey)
      guard let ciphertext else {
        throw BackupError.invalidResponse(path: "\(mount)/encrypt/\(name)")
      }
      result.append(
        .prewrapped(
          type: EnvelopeHeader.Stanza.vaultTransit, body: Array("\(key)\n\(ciphertext)".utf8)))
    }
    return result
  }

  /// A Transit stanza's body, parsed strictly: `MOUNT/KEY` (a valid Vault path of at least
  /// two segments), one LF, and `vault:v<N>:<base64>`. Anything else is a malformed
  /// header (exit 65), never a crash.
  static func parseTransitStanza(_ body: [UInt8]) throws -> (key: VaultPath, ciphertext: String) {
    func malformed(_ reason: String) -> EnvelopeError {
      .malformedHeader("a Vault Transit stanza \(reason)")
    }
    guard let newline = body.firstIndex(of: 0x0A),
      body[(newline + 1)...].firstIndex(of: 0x0A) == nil
    else { throw malformed("is not MOUNT/KEY, a line break and a ciphertext") }
    guard let keyText = String(validating: body[..<newline], as: UTF8.self),
      let key = try? VaultPath(keyText), key.segments.count >= 2, !key.isFolder
    else { throw malformed("does not start with a valid MOUNT/KEY") }
    let ciphertext = Array(body[(newline + 1)...])
    let parts = ciphertext.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
    func isBase64(_ byte: UInt8) -> Bool {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"),
        UInt8(ascii: "="):
        true
      default: false
      }
    }
    guard parts.count == 3, Array(parts[0]) == Array("vault".utf8), parts[1].count >= 2,
      parts[1].first == UInt8(ascii: "v"),
      parts[1].dropFirst().allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
      !parts[2].isEmpty, parts[2].count <= 4096, parts[2].allSatisfy(isBase64)
    else { throw malformed("does not hold a vault:vN:… ciphertext") }
    return (key, String(decoding: ciphertext, as: UTF8.self))
  }

  /// The file key from the first Transit stanza of `key` (`MOUNT/KEY`, as the operator named
  /// it with `--transit`) that Vault decrypts, or nil. Stanzas of other keys are never sent:
  /// the file does not choose where the operator's token goes. Every Transit stanza is
  /// parsed strictly first.
  public static func unwrapWithTransit(_ header: EnvelopeHeader, vault: VaultClient, key: String)
    async throws -> SecretBytes?
  {
    let wanted = VaultPath(stripping: try VaultPath(key))
    guard wanted.segments.count >= 2 else {
      throw BackupError.usage("--transit takes MOUNT/KEY (e.g. transit/lockstep-backup).")
    }
    var candidates: [String] = []
    for stanza in header.stanzas where stanza.type == EnvelopeHeader.Stanza.vaultTransit {
      let (stanzaKey, ciphertext) = try parseTransitStanza(stanza.body)
      if stanzaKey == wanted { candidates.append(ciphertext) }
    }
    let mount = wanted.segments.dropLast().joined(separator: "/")
    let name = wanted.segments.last!
    for ciphertext in candidates {
      let key32 = try? await vault.transitDecrypt(mount: mount, key: name, ciphertext: ciphertext)
      if let key32, key32.count == 32 { return key32 }
    }
    return nil
  }

  private static func split(_ key: String) -> (mount: String, name: String) {
    let slash = key.lastIndex(of: "/")!
    return (String(key[..<slash]), String(key[key.index(after: slash)...]))
  }
}
