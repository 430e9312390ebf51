import Crypto
import Foundation
import LockstepCore

/// Files made by the runbook's `openssl enc -aes-256-cbc -salt [-md D] [-pbkdf2]`:
/// `Salted__`, an 8-byte salt, then CBC ciphertext. Nothing in the file records how the key
/// was derived, and CBC has no tag, so a wrong guess is only caught by the padding check
/// (which a wrong key passes about 1 time in 256). Hence, without a named derivation, all
/// three are tried:
///
/// - none gives valid padding: the passphrase is wrong (or the file altered);
/// - exactly one does: that one opens the file, whatever the content (a tarball, a gzip of
///   a dump), and the caller says which derivation, and whether the content is text;
/// - several do: the one whose plaintext is JSON or KEY=VALUE lines, else the one whose
///   plaintext is text; when that still leaves more than one, the file is ambiguous and
///   `--legacy-kdf` must name the derivation.
///
/// "Wrong passphrase" is never said when some derivation produced valid padding.
public enum LegacyOpenSSLFile {
  public static let magic: [UInt8] = Array("Salted__".utf8)

  public enum KeyDerivation: String, Sendable, CaseIterable {
    /// `-pbkdf2` (PBKDF2-HMAC-SHA256, 10,000 iterations): OpenSSL 1.1.1 and later.
    case pbkdf2
    /// `EVP_BytesToKey` with SHA-256: the default of OpenSSL 1.1.0 and later without -pbkdf2.
    case sha256
    /// `EVP_BytesToKey` with MD5: the default before OpenSSL 1.1.0.
    case md5
  }

  public static func isLegacy(_ prefix: [UInt8]) -> Bool {
    prefix.count >= 8 && Array(prefix.prefix(8)) == magic
  }

  /// Decrypts `file`. With `kdf`, only that derivation is tried and any correctly padded
  /// plaintext is accepted; without, see the type's comment. Says which derivation opened
  /// the file; `isText(_:)` tells the caller whether to warn that the content is binary.
  public static func decrypt(
    _ file: [UInt8], passphrase: SecretBytes, kdf: KeyDerivation? = nil
  ) throws -> (plaintext: SecretBytes, kdf: KeyDerivation) {
    guard isLegacy(file), file.count >= 32 else { throw EnvelopeError.legacyWrongPassphrase }
    let salt = Array(file[8..<16])
    let ciphertext = Array(file[16...])
    var padded: [(plaintext: SecretBytes, kdf: KeyDerivation)] = []
    for candidate in kdf.map({ [$0] }) ?? KeyDerivation.allCases {
      let derived: LegacyOpenSSL.KeyAndIV
      switch candidate {
      case .pbkdf2: derived = try LegacyOpenSSL.pbkdf2(passphrase: passphrase, salt: salt)
      case .sha256:
        derived = try LegacyOpenSSL.bytesToKey(passphrase: passphrase, salt: salt, digest: .sha256)
      case .md5:
        derived = try LegacyOpenSSL.bytesToKey(passphrase: passphrase, salt: salt, digest: .md5)
      }
      guard
        let plaintext = try? LegacyOpenSSL.decryptAES256CBC(
          ciphertext, key: derived.key, iv: derived.iv)
      else { continue }
      padded.append((plaintext, candidate))
    }
    if padded.count == 1 { return padded[0] }
    guard !padded.isEmpty else { throw EnvelopeError.legacyWrongPassphrase }
    // Several paddings are valid: a wrong key's valid padding gives noise, so the candidate
    // whose plaintext has a shape (secrets, else text) is the one, if it is alone.
    let secrets = padded.filter { looksLikeSecrets($0.plaintext) }
    if secrets.count == 1 { return secrets[0] }
    let text = padded.filter { isText($0.plaintext) }
    if secrets.isEmpty && text.count == 1 { return text[0] }
    throw EnvelopeError.legacyAmbiguous
  }

  /// Whether `plaintext` reads as text: UTF-8 without control characters other than tab,
  /// line feed, carriage return and form feed. Random bytes of a wrong key never are.
  public static func isText(_ plaintext: SecretBytes) -> Bool {
    plaintext.withUnsafeBytes { bytes in
      let bytes = bytes.bindMemory(to: UInt8.self)
      let controlFree = bytes.allSatisfy { byte in
        byte >= 0x20 && byte != 0x7F || byte == 0x09 || byte == 0x0A || byte == 0x0D
          || byte == 0x0C
      }
      return controlFree && String(validating: bytes, as: UTF8.self) != nil
    }
  }

  /// JSON (what `vault kv get -format=json` wrote), or lines of KEY=VALUE (a .env file),
  /// allowing blank lines, `#` comments and an `export ` prefix.
  static func looksLikeSecrets(_ plaintext: SecretBytes) -> Bool {
    plaintext.withUnsafeBytes { bytes in
      guard !bytes.isEmpty else { return false }
      let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
      if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) != nil
      }
      guard String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil else {
        return false
      }
      var sawAssignment = false
      for line in bytes.split(separator: 0x0A) {
        var text = Array(line)
        while let last = text.last, last == 0x0D || last == 0x20 { text.removeLast() }
        while let head = text.first, head == 0x20 || head == 0x09 { text.removeFirst() }
        if text.isEmpty || text[0] == UInt8(ascii: "#") { continue }
        if text.starts(with: Array("export ".utf8)) { text.removeFirst(7) }
        guard let equals = text.firstIndex(of: UInt8(ascii: "=")), equals > 0 else { return false }
        let name = text[..<equals]
        let validName = name.enumerated().allSatisfy { index, byte in
          (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
            || (index > 0 && ((byte >= 0x30 && byte <= 0x39) || byte == 0x2E || byte == 0x2D))
        }
        guard validName else { return false }
        sawAssignment = true
      }
      return sawAssignment
    }
  }
}
