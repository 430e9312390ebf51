import Crypto
import LockstepCore

/// `lockstep decrypt` in one call: tells an envelope from a legacy `openssl enc` file by its
/// first 8 bytes and opens either with what the user gave.
public enum Decryption {
  public enum Outcome: Sendable {
    case envelope(EnvelopeFormat.Summary)
    /// A legacy `openssl enc` file, opened with this derivation; `binary` when the content
    /// is not text (say so: CBC cannot tell a right passphrase from a lucky padding).
    case legacy(LegacyOpenSSLFile.KeyDerivation, binary: Bool)
  }

  /// Legacy files are read whole (they are `.env`-sized); envelopes stream.
  public static let legacyMaximumSize = 256 * 1024 * 1024

  public static func decrypt(
    from source: any ByteSource, to sink: any ByteSink, identities: [Identity],
    passphrase: SecretBytes?, legacyKDF: LegacyOpenSSLFile.KeyDerivation? = nil,
    expectedSigner: [UInt8]? = nil
  ) throws -> Outcome {
    var head = [UInt8](repeating: 0, count: 8)
    let got = try head.withUnsafeMutableBytes { try source.readFully(into: $0) }
    head.removeLast(8 - got)
    if LegacyOpenSSLFile.isLegacy(head) {
      guard let passphrase else {
        throw EnvelopeError.io(
          "this is a legacy openssl file: give its passphrase with --passphrase-file")
      }
      var file = head
      var buffer = [UInt8](repeating: 0, count: 1 << 16)
      while true {
        let count = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
        if count == 0 { break }
        file += buffer[0..<count]
        guard file.count <= legacyMaximumSize else {
          throw EnvelopeError.io("the legacy openssl file is larger than 256 MiB")
        }
      }
      let (plaintext, kdf) = try LegacyOpenSSLFile.decrypt(
        file, passphrase: passphrase, kdf: legacyKDF)
      try plaintext.withUnsafeBytes { try sink.write($0) }
      return .legacy(kdf, binary: !LegacyOpenSSLFile.isText(plaintext))
    }
    var all = identities
    if let passphrase { all.append(.passphrase(passphrase)) }
    let summary = try EnvelopeFormat.decrypt(
      from: PrefixedSource(prefix: head, rest: source), to: sink, identities: all,
      expectedSigner: expectedSigner)
    return .envelope(summary)
  }
}
