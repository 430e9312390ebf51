import Crypto
import LockstepCore

/// The parsed header of an envelope (format versions 1 and 2, docs/format.md).
///
/// Version 2 differs from version 1 only in its X25519 stanzas, which start with a
/// recipient tag (see `EnvelopeKeys.recipientTag`) so that `rewrap` can tell whose each one
/// is. Readers accept both; writers write version 2.
public struct EnvelopeHeader: Sendable {
  public static let magic: [UInt8] = Array("LOCKSTEP".utf8)
  /// The version writers produce.
  public static let version: UInt8 = 2
  public static let readableVersions: ClosedRange<UInt8> = 1...2
  public static let maximumStanzas = 1024

  /// The Argon2id work a decoder accepts (docs/format.md, "Passphrase work budget"). Per
  /// stanza: at most 4 passes, 256 MiB, and 768 MiB·passes (libsodium's MODERATE level, the
  /// most any lockstep has written; it writes INTERACTIVE, 128 MiB·passes). Per file: at
  /// most 1,536 MiB·passes over every passphrase stanza together, checked when the header
  /// is read, before any key is derived. So one passphrase costs a decoder at most 1.5
  /// GiB·passes of Argon2id, one derivation (≤ 256 MiB) at a time, whatever the file says.
  public static let maximumArgon2idPasses: UInt32 = 4
  public static let maximumArgon2idMemoryKiB: UInt32 = 256 * 1024
  public static let maximumArgon2idStanzaWork: UInt64 = 768 * 1024
  public static let maximumArgon2idFileWork: UInt64 = 1536 * 1024

  public struct Stanza: Sendable, Equatable {
    public static let x25519: UInt8 = 1
    public static let argon2id: UInt8 = 2
    public static let vaultTransit: UInt8 = 3

    public let type: UInt8
    public let body: [UInt8]

    public init(type: UInt8, body: [UInt8]) {
      self.type = type
      self.body = body
    }
  }

  /// The format version this header was read with or is written as.
  public let version: UInt8
  public let payloadSalt: [UInt8]
  /// The Ed25519 public key that signed the payload, when the file is signed.
  public let signerPublicKey: [UInt8]?
  public let stanzas: [Stanza]
  public let mac: [UInt8]

  /// Every header byte before the MAC: what the MAC authenticates.
  public var authenticatedBytes: [UInt8] {
    var out = Self.magic
    out.append(version)
    out.append(signerPublicKey == nil ? 0 : 1)
    out += payloadSalt
    if let signerPublicKey { out += signerPublicKey }
    out.appendBigEndian(UInt16(stanzas.count))
    for stanza in stanzas {
      out.append(stanza.type)
      out.appendBigEndian(UInt16(stanza.body.count))
      out += stanza.body
    }
    return out
  }

  public var encoded: [UInt8] { authenticatedBytes + mac }

  init(
    version: UInt8 = Self.version, payloadSalt: [UInt8], signerPublicKey: [UInt8]?,
    stanzas: [Stanza], mac: [UInt8]
  ) {
    self.version = version
    self.payloadSalt = payloadSalt
    self.signerPublicKey = signerPublicKey
    self.stanzas = stanzas
    self.mac = mac
  }

  /// Builds a header and its MAC for `fileKey`.
  static func make(
    fileKey: SecretBytes, payloadSalt: [UInt8], signerPublicKey: [UInt8]?, stanzas: [Stanza]
  ) throws -> EnvelopeHeader {
    guard !stanzas.isEmpty, stanzas.count <= maximumStanzas,
      stanzas.allSatisfy({ $0.body.count <= Int(UInt16.max) })
    else { throw EnvelopeError.malformedHeader("it needs 1 to 1024 recipients") }
    let unsigned = EnvelopeHeader(
      payloadSalt: payloadSalt, signerPublicKey: signerPublicKey, stanzas: stanzas, mac: [])
    let mac = HMACSHA256.authenticate(
      unsigned.authenticatedBytes, key: EnvelopeKeys.header(fileKey))
    return EnvelopeHeader(
      payloadSalt: payloadSalt, signerPublicKey: signerPublicKey, stanzas: stanzas, mac: mac)
  }

  /// Reads a header from the start of `source`, consuming exactly its bytes. The MAC is not
  /// checked here: that needs the file key.
  public static func read(from source: any ByteSource) throws -> EnvelopeHeader {
    let reader = HeaderReader(source: source)
    let magic = try reader.take(8, atStart: true)
    guard magic == Self.magic else {
      throw EnvelopeError.notAnEnvelope
    }
    let version = try reader.take(1)[0]
    guard readableVersions.contains(version) else {
      throw EnvelopeError.unsupportedVersion(version)
    }
    let flags = try reader.take(1)[0]
    guard flags & ~1 == 0 else { throw EnvelopeError.malformedHeader("unknown flags are set") }
    let payloadSalt = try reader.take(32)
    let signer = flags & 1 == 1 ? try reader.take(32) : nil
    let count = Int(try reader.uint16())
    guard count >= 1, count <= maximumStanzas else {
      throw EnvelopeError.malformedHeader("it has \(count) recipient stanzas")
    }
    var stanzas: [Stanza] = []
    var passphraseWork: UInt64 = 0
    for _ in 0..<count {
      let type = try reader.take(1)[0]
      let length = Int(try reader.uint16())
      let stanza = Stanza(type: type, body: try reader.take(length))
      passphraseWork += try check(stanza, version: version)
      stanzas.append(stanza)
    }
    guard passphraseWork <= maximumArgon2idFileWork else {
      throw EnvelopeError.malformedHeader(
        "its passphrase stanzas ask for more Argon2id work than a decoder spends on one file (1,536 MiB·passes)"
      )
    }
    let mac = try reader.take(32)
    return EnvelopeHeader(
      version: version, payloadSalt: payloadSalt, signerPublicKey: signer, stanzas: stanzas,
      mac: mac)
  }

  /// Checks the body of a stanza of a known type (unknown types are skipped); returns the
  /// Argon2id work of a passphrase stanza in KiB·passes, 0 otherwise.
  static func check(_ stanza: Stanza, version: UInt8) throws -> UInt64 {
    switch stanza.type {
    case Stanza.x25519:
      let expected = (version == 1 ? 0 : EnvelopeKeys.recipientTagLength) + 32 + SealedBox.overhead
      guard stanza.body.count == expected else {
        throw EnvelopeError.malformedHeader("an X25519 stanza is not \(expected) bytes long")
      }
      return 0
    case Stanza.argon2id:
      let parameters = try argon2idParameters(stanza)
      return UInt64(parameters.iterations) * UInt64(parameters.memoryKiB)
    case Stanza.vaultTransit:
      // MOUNT/KEY, one LF, the ciphertext; the parts are checked strictly where used.
      let breaks = stanza.body.filter { $0 == 0x0A }.count
      guard breaks == 1, stanza.body.first != 0x0A, stanza.body.last != 0x0A else {
        throw EnvelopeError.malformedHeader(
          "a Vault Transit stanza is not MOUNT/KEY, a line break and a ciphertext")
      }
      return 0
    default:
      return 0
    }
  }

  /// The parameters of a passphrase stanza, refused beyond the per-stanza ceiling.
  static func argon2idParameters(_ stanza: Stanza) throws -> Argon2idParameters {
    let body = stanza.body
    guard body.count == 8 + Argon2id.saltByteCount + SecretBox.nonceByteCount + 48 else {
      throw EnvelopeError.malformedHeader("an Argon2id stanza is not 96 bytes long")
    }
    let parameters = Argon2idParameters(
      iterations: body[0..<4].reduce(0) { $0 << 8 | UInt32($1) },
      memoryKiB: body[4..<8].reduce(0) { $0 << 8 | UInt32($1) })
    guard parameters.iterations >= 1, parameters.iterations <= maximumArgon2idPasses,
      parameters.memoryKiB >= 8, parameters.memoryKiB <= maximumArgon2idMemoryKiB,
      UInt64(parameters.iterations) * UInt64(parameters.memoryKiB)
        <= maximumArgon2idStanzaWork
    else {
      throw EnvelopeError.malformedHeader(
        "its Argon2id parameters are outside the accepted limits (1-4 passes, 8 KiB-256 MiB, at most 768 MiB·passes)"
      )
    }
    return parameters
  }

  /// Whether the MAC matches under `fileKey` (constant-time).
  func isAuthentic(fileKey: SecretBytes) -> Bool {
    HMACSHA256.isValid(mac, for: authenticatedBytes, key: EnvelopeKeys.header(fileKey))
  }

  /// Bytes before the sealed box in an X25519 stanza body: none in version 1, the
  /// 16-byte recipient tag in version 2.
  var x25519TagLength: Int { version == 1 ? 0 : EnvelopeKeys.recipientTagLength }

  /// The sealed box and the recipient tag (nil in version 1, or when all zero: a stanza
  /// whose recipient the writer did not know) of an X25519 stanza.
  func x25519Parts(_ stanza: Stanza) throws -> (tag: [UInt8]?, sealedBox: [UInt8]) {
    let boxLength = 32 + SealedBox.overhead
    guard stanza.body.count == x25519TagLength + boxLength else {
      throw EnvelopeError.malformedHeader(
        "an X25519 stanza is not \(x25519TagLength + boxLength) bytes long")
    }
    let tag = Array(stanza.body[0..<x25519TagLength])
    return (
      tag.isEmpty || tag.allSatisfy({ $0 == 0 }) ? nil : tag,
      Array(stanza.body[x25519TagLength...])
    )
  }
}

/// Reads exact byte counts from a source; running out mid-header is truncation.
private final class HeaderReader {
  let source: any ByteSource
  init(source: any ByteSource) { self.source = source }

  func take(_ count: Int, atStart: Bool = false) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    let got = try out.withUnsafeMutableBytes { try source.readFully(into: $0) }
    guard got == count else {
      throw atStart
        ? EnvelopeError.notAnEnvelope
        : EnvelopeError.malformedHeader("the file ends inside its header")
    }
    return out
  }

  func uint16() throws -> UInt16 {
    let bytes = try take(2)
    return UInt16(bytes[0]) << 8 | UInt16(bytes[1])
  }
}

/// The keys derived from the file key (HKDF-SHA-256, docs/format.md section "Keys").
public enum EnvelopeKeys {
  static func header(_ fileKey: SecretBytes) -> SecretBytes {
    HKDF.deriveKey(
      from: fileKey, salt: [], info: Array("lockstep v1 header".utf8), outputByteCount: 32)
  }

  static func payload(_ fileKey: SecretBytes, salt: [UInt8]) -> SecretBytes {
    HKDF.deriveKey(
      from: fileKey, salt: salt, info: Array("lockstep v1 payload".utf8), outputByteCount: 32)
  }

  static let recipientTagLength = 16

  /// Which X25519 recipient a version-2 stanza belongs to: the first 16 bytes of
  /// HMAC(HKDF(file key, "lockstep v2 recipient tag"), public key). Keyed by the file key,
  /// so only someone who can open the file can test a public key against it; an outsider
  /// cannot link a backup to a recipient.
  public static func recipientTag(_ fileKey: SecretBytes, publicKey: [UInt8]) -> [UInt8] {
    let key = HKDF.deriveKey(
      from: fileKey, salt: [], info: Array("lockstep v2 recipient tag".utf8),
      outputByteCount: 32)
    return Array(HMACSHA256.authenticate(publicKey, key: key).prefix(recipientTagLength))
  }

  /// A version-2 X25519 stanza body: the recipient tag, then the sealed box of the file key.
  static func x25519Body(_ fileKey: SecretBytes, publicKey: [UInt8], ephemeralSeed: SecretBytes?)
    throws -> [UInt8]
  {
    recipientTag(fileKey, publicKey: publicKey)
      + (try SealedBox.seal(fileKey, to: publicKey, ephemeralSeed: ephemeralSeed))
  }
}

extension [UInt8] {
  mutating func appendBigEndian(_ value: UInt16) {
    append(UInt8(value >> 8))
    append(UInt8(value & 0xFF))
  }

  mutating func appendBigEndian(_ value: UInt32) {
    for shift in stride(from: 24, through: 0, by: -8) {
      append(UInt8((value >> UInt32(shift)) & 0xFF))
    }
  }
}
