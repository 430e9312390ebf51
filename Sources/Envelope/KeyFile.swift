import Crypto
import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// The text files `lockstep keygen` writes: comment lines (`#`) and one Bech32 key line,
/// uppercase like age's `AGE-SECRET-KEY-1…` so that a secret key never looks like a
/// recipient. Files holding a secret are created 0600.
public enum KeyFile {
  static let identityPrefix = "lockstep-secret-key-"
  static let signingPrefix = "lockstep-signing-key-"
  static let signingPublicPrefix = "lockstepsig"

  public static func identityText(_ pair: X25519KeyPair, created: Date = Date()) -> String {
    // The key must end up in the returned text; the intermediate array is wiped.
    var secret = pair.secretKey.unsafeArray()
    defer { SecretBytes.wipe(&secret) }
    return """
      # lockstep X25519 identity (keep secret), created \(timestamp(created))
      # recipient: \(Recipient.encode(x25519PublicKey: pair.publicKey))
      \(Bech32.encode(hrp: identityPrefix, data: secret, uppercase: true))

      """
  }

  public static func signingKeyText(_ pair: Ed25519KeyPair, created: Date = Date()) -> String {
    var seed = pair.seed.unsafeArray()
    defer { SecretBytes.wipe(&seed) }
    return """
      # lockstep Ed25519 signing key (keep secret), created \(timestamp(created))
      # public key: \(encodeSigningPublicKey(pair.publicKey))
      \(Bech32.encode(hrp: signingPrefix, data: seed, uppercase: true))

      """
  }

  public static func encodeSigningPublicKey(_ publicKey: [UInt8]) -> String {
    Bech32.encode(hrp: signingPublicPrefix, data: publicKey)
  }

  /// Parses `lockstepsig1…`.
  public static func parseSigningPublicKey(_ text: String) throws -> [UInt8] {
    let trimmed = text.trimmingWhitespace()
    guard let (hrp, data) = Bech32.decode(trimmed), hrp == signingPublicPrefix,
      data.count == Ed25519KeyPair.publicKeyByteCount
    else { throw EnvelopeError.invalidRecipient(trimmed) }
    return data
  }

  /// A trusted-signers file: one `lockstepsig1…` a line; blank lines and `#` comments are
  /// skipped. An empty list is refused (it would trust nobody, silently).
  public static func readTrustedSigners(path: String) throws -> [[UInt8]] {
    let text = try readSecretFile(path: path).unsafeUTF8String() ?? ""
    var keys: [[UInt8]] = []
    for line in text.split(whereSeparator: \.isNewline) {
      let line = String(line).trimmingWhitespace()
      if line.isEmpty || line.hasPrefix("#") { continue }
      do { keys.append(try parseSigningPublicKey(line)) } catch {
        throw EnvelopeError.invalidKeyFile(path: path, expected: "a trusted-signers file")
      }
    }
    guard !keys.isEmpty else {
      throw EnvelopeError.invalidKeyFile(
        path: path, expected: "a trusted-signers file (it names no lockstepsig1… key)")
    }
    return keys
  }

  /// Every X25519 identity in the file (an identity file may hold several).
  public static func readIdentities(path: String) throws -> [X25519KeyPair] {
    let keys = try readKeyLines(path: path, prefix: identityPrefix)
    guard !keys.isEmpty else {
      throw EnvelopeError.invalidKeyFile(path: path, expected: "a lockstep identity file")
    }
    return try keys.map { try X25519KeyPair(secretKey: $0) }
  }

  public static func readSigningKey(path: String) throws -> Ed25519KeyPair {
    let keys = try readKeyLines(path: path, prefix: signingPrefix)
    guard keys.count == 1 else {
      throw EnvelopeError.invalidKeyFile(path: path, expected: "a lockstep signing key file")
    }
    return try Ed25519KeyPair(seed: keys[0])
  }

  /// The public key in a signing key file or a `.pub` file, or a literal `lockstepsig1…`.
  public static func readSigningPublicKey(_ pathOrKey: String) throws -> [UInt8] {
    if pathOrKey.hasPrefix(signingPublicPrefix + "1") {
      return try parseSigningPublicKey(pathOrKey)
    }
    let text = try readSecretFile(path: pathOrKey).unsafeUTF8String() ?? ""
    for line in text.split(whereSeparator: \.isNewline) {
      let line = String(line).trimmingWhitespace()
      if line.hasPrefix(signingPublicPrefix + "1") { return try parseSigningPublicKey(line) }
      if line.hasPrefix("# public key: ") {
        return try parseSigningPublicKey(String(line.dropFirst("# public key: ".count)))
      }
    }
    throw EnvelopeError.invalidKeyFile(path: pathOrKey, expected: "a lockstep signing public key")
  }

  /// A passphrase file, read byte for byte as OpenSSL 3.0's `openssl enc -pass file:` reads
  /// it, so the same file opens legacy files and new ones: `BIO_gets` of at most 1023 bytes
  /// up to and including the first `\n`, the `\n` removed, a `\r` before it KEPT (a CRLF
  /// file's passphrase ends in CR), and the result cut at the first NUL (a C string).
  /// `EnvelopeLegacyTests` holds each rule against the real `openssl` binary.
  public static func readPassphrase(path: String) throws -> SecretBytes {
    let raw = try readSecretFile(path: path)
    let passphrase = raw.withUnsafeBytes { bytes in
      var end = min(bytes.count, openSSLPassphraseLimit)
      if let newline = bytes[..<end].firstIndex(of: 0x0A) { end = newline }
      if let nul = bytes[..<end].firstIndex(of: 0) { end = nul }
      return raw.prefix(end)
    }
    // An empty first line (an empty file, a lone newline, or a lone CR before it, which
    // OpenSSL's rule keeps) would encrypt to a key anyone can guess.
    let blank = passphrase.withUnsafeBytes { bytes in bytes.allSatisfy { $0 == 0x0D } }
    guard !blank else {
      throw UserError(
        "the passphrase in \(path) is empty (its first line has no characters); write the passphrase on the first line",
        exit: .usage)
    }
    return passphrase
  }

  /// apps/lib/apps.c reads `-pass file:` with `BIO_gets(bio, tpass, APP_PASS_LEN)`, and
  /// APP_PASS_LEN is 1024: at most 1023 bytes.
  static let openSSLPassphraseLimit = 1023

  private static func readKeyLines(path: String, prefix: String) throws -> [SecretBytes] {
    let raw = try readSecretFile(path: path)
    var keys: [SecretBytes] = []
    try raw.withUnsafeBytes { bytes in
      for line in bytes.split(separator: 0x0A) {
        var data = Array(line)
        defer { SecretBytes.wipe(&data) }
        while let last = data.last, last == 0x0D || last == 0x20 { data.removeLast() }
        if data.isEmpty || data.first == UInt8(ascii: "#") { continue }
        guard let text = String(validating: data, as: UTF8.self),
          let decoded = Bech32.decode(text), decoded.hrp == prefix, decoded.data.count == 32
        else {
          throw EnvelopeError.invalidKeyFile(path: path, expected: "a lockstep key file")
        }
        var key = decoded.data
        keys.append(SecretBytes(consuming: &key))
      }
    }
    return keys
  }

  /// Reads a whole (small) file into `SecretBytes` without going through `Data` or `String`.
  public static func readSecretFile(path: String) throws -> SecretBytes {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw EnvelopeError.io("could not open \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    defer { SecretBytes.wipe(&buffer) }
    var count = 0
    while true {
      if count == buffer.count { throw EnvelopeError.io("\(path) is too large for a key file") }
      let got = buffer.withUnsafeMutableBytes {
        read(fd, $0.baseAddress! + count, $0.count - count)
      }
      if got < 0 {
        if errno == EINTR { continue }
        throw EnvelopeError.io("could not read \(path): \(String(cString: strerror(errno)))")
      }
      if got == 0 { break }
      count += got
    }
    return SecretBytes(count: count) { target in
      buffer.withUnsafeBytes {
        target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<count]))
      }
    }
  }

  private static func timestamp(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }
}
