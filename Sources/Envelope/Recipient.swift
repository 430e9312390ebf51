import Crypto
import LockstepCore

/// Who can open an envelope: each recipient gets one stanza wrapping the file key.
public enum Recipient: Sendable {
  /// An X25519 public key (`lockstep1…`), wrapped with a libsodium sealed box.
  case x25519(publicKey: [UInt8])
  /// A passphrase, stretched with Argon2id under the given parameters.
  case passphrase(SecretBytes, Argon2idParameters = .interactive)
  /// A stanza wrapped by the caller (a Vault Transit key: type 3), who must have passed the
  /// same file key to the writer.
  case prewrapped(type: UInt8, body: [UInt8])

  static let x25519Prefix = "lockstep"

  /// Parses `lockstep1…` (Bech32 of the 32-byte X25519 public key).
  public init(parsing text: String) throws {
    let trimmed = text.trimmingWhitespace()
    guard let (hrp, data) = Bech32.decode(trimmed), hrp == Self.x25519Prefix,
      data.count == X25519KeyPair.keyByteCount
    else { throw EnvelopeError.invalidRecipient(trimmed) }
    self = .x25519(publicKey: data)
  }

  /// The textual form of an X25519 public key.
  public static func encode(x25519PublicKey publicKey: [UInt8]) -> String {
    Bech32.encode(hrp: x25519Prefix, data: publicKey)
  }
}

/// What a reader tries against the stanzas: the first that opens one gives the file key.
public enum Identity: Sendable {
  case x25519(X25519KeyPair)
  case passphrase(SecretBytes)
  /// A file key obtained out of band (e.g. from Vault Transit by the Backup module).
  case fileKey(SecretBytes)
}

extension String {
  func trimmingWhitespace() -> String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
      let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
    else { return "" }
    return String(scalars[first...last])
  }
}
