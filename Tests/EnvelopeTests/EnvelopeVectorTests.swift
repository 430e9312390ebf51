import Crypto
import Envelope
import LockstepCore
import Testing

/// The test vectors of docs/format.md ("Test vectors"): fixed keys, randomness and input,
/// and the exact bytes of the envelope. The same inputs are listed in the document, and an
/// independent decoder written from the document (below, using only the Crypto
/// primitives, none of the Envelope code) must open them.
@Suite struct EnvelopeVectorTests {
  static func range(_ start: UInt8, _ count: Int) -> [UInt8] {
    (0..<count).map { start &+ UInt8($0) }
  }

  /// Draws in the order docs/format.md lists: file key, payload salt, then per stanza.
  final class Draws {
    var queue: [[UInt8]]
    init(_ queue: [[UInt8]]) { self.queue = queue }
    func next(_ count: Int) -> [UInt8] {
      let value = queue.removeFirst()
      precondition(value.count == count, "draw of \(count) bytes, vector has \(value.count)")
      return value
    }
  }

  static let recipientSecret = range(0xA0, 32)
  static let signingSeed = range(0xC0, 32)
  static let passphrase = "correct horse battery staple"

  static func vector1() throws -> [UInt8] {
    let recipient = try X25519KeyPair(secretKey: SecretBytes(copying: recipientSecret))
    let signer = try Ed25519KeyPair(seed: SecretBytes(copying: signingSeed))
    let draws = Draws([
      range(0x00, 32), range(0x20, 32), range(0x40, 32), range(0x60, 16), range(0x70, 24),
    ])
    let sink = MemoryStream()
    let writer = try EnvelopeWriter(
      to: sink,
      recipients: [
        .x25519(publicKey: recipient.publicKey),
        .passphrase(
          SecretBytes(utf8: passphrase), Argon2idParameters(iterations: 1, memoryKiB: 64)),
      ],
      signingKey: signer, testRandomness: draws.next)
    try writer.write(Array("hello, lockstep\n".utf8))
    try writer.finish()
    return sink.bytes
  }

  static func vector2Plaintext() -> [UInt8] { (0..<(65536 + 5)).map { UInt8($0 % 251) } }

  static func vector2() throws -> [UInt8] {
    let recipient = try X25519KeyPair(secretKey: SecretBytes(copying: recipientSecret))
    let draws = Draws([range(0x00, 32), range(0x20, 32), range(0x40, 32)])
    let sink = MemoryStream()
    let writer = try EnvelopeWriter(
      to: sink, recipients: [.x25519(publicKey: recipient.publicKey)],
      testRandomness: draws.next)
    try writer.write(vector2Plaintext())
    try writer.finish()
    return sink.bytes
  }

  static let vector1Hex = """
    4c4f434b535445500201202122232425262728292a2b2c2d2e2f303132333435
    363738393a3b3c3d3e3fdde3bccec7f3a66a1115f45d720f4dc135c3ae7c4e22
    dca38fdb1efd6a495ff800020100606935bf8506e6ab378d713da996de3ef2f1
    4b5173130a1b80687f273d49e8f4740a793a949b83b105837f2a61e8fee14f57
    1c144da1a00ba4955dac0b97fbbc728499e5b5faa91d9d8dfbe01635109a5616
    b09c6079b0da2ca0f6e49b4a5d8eea0200600000000100000040606162636465
    666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485
    86871fec441030fad298c0080602bef8829f006651ea425f0c14e9adceb430f5
    0bef698700eb540265857f3ad512534e3454fe45c91a22f0948ee5652ed1672c
    251689e7d080b4959e834319392e6a45ef0f4d788fff6f31feb1c62f0826a4ef
    2a8af03ae2c2a13e3fc6c7082e67204f028f17325fbeb7a66060631dbc00f513
    dd7f80ff30cb1b938dbbca08fec871f14226094882a571345846100aad241075
    6598d24be2a688c34e75d867c5fc2ae19607
    """
  static let vector2Header = """
    4c4f434b535445500200202122232425262728292a2b2c2d2e2f303132333435
    363738393a3b3c3d3e3f00010100606935bf8506e6ab378d713da996de3ef2f1
    4b5173130a1b80687f273d49e8f4740a793a949b83b105837f2a61e8fee14f57
    1c144da1a00ba4955dac0b97fbbc728499e5b5faa91d9d8dfbe01635109a5616
    b09c6079b0da2ca0f6e49b4a5d8eeaa7313dcddd65a6901488ac3f4a48963bc1
    3839510134a1f438cfcc3168b4a95f
    """
  static let vector2SHA256 =
    "92350f8c8069f2097626440941623f09b5f0ef26c7bb2c117b991a91c7414a32"
  /// The recipient tag of the vectors' key under their file key.
  static let recipientTag = "6935bf8506e6ab378d713da996de3ef2"

  /// The version-1 vectors (written by lockstep before recipient tags): no longer produced,
  /// still read.
  static let version1Vector1Hex = """
    4c4f434b535445500101202122232425262728292a2b2c2d2e2f303132333435
    363738393a3b3c3d3e3fdde3bccec7f3a66a1115f45d720f4dc135c3ae7c4e22
    dca38fdb1efd6a495ff80002010050f14b5173130a1b80687f273d49e8f4740a
    793a949b83b105837f2a61e8fee14f571c144da1a00ba4955dac0b97fbbc7284
    99e5b5faa91d9d8dfbe01635109a5616b09c6079b0da2ca0f6e49b4a5d8eea02
    00600000000100000040606162636465666768696a6b6c6d6e6f707172737475
    767778797a7b7c7d7e7f80818283848586871fec441030fad298c0080602bef8
    829f006651ea425f0c14e9adceb430f50bef698700eb540265857f3ad512534e
    3454475c01d5fd8a4fdf22f759b6d6ef2defe1c2fa7837198e4dc6fbd7d6bfca
    b5644d788fff6f31feb1c62f0826a4ef2a8af03ae2c2a13e3fc6c7082e67204f
    028f17325fbeb7a66060631dbc00f513dd7f80ff30cb1b938dbbca08fec871f1
    4226094882a571345846100aad2410756598d24be2a688c34e75d867c5fc2ae1
    9607
    """
  static let version1Vector2Header = """
    4c4f434b535445500100202122232425262728292a2b2c2d2e2f303132333435
    363738393a3b3c3d3e3f0001010050f14b5173130a1b80687f273d49e8f4740a
    793a949b83b105837f2a61e8fee14f571c144da1a00ba4955dac0b97fbbc7284
    99e5b5faa91d9d8dfbe01635109a5616b09c6079b0da2ca0f6e49b4a5d8eead7
    d0e13f0ff4d07c54c10463849794ed3d42c6f0ec7bf8e94d85acf0d2055fc4
    """
  static let version1Vector2SHA256 =
    "17326f9359bd78bbe2ce88ec6630897a051241005025899242c61562943af6ea"

  static func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex.filter { !$0.isWhitespace })! }

  @Test func vector1Bytes() throws {
    let bytes = try Self.vector1()
    #expect(Hex.encode(bytes) == Self.vector1Hex.filter { !$0.isWhitespace })
  }

  /// The recipient string docs/format.md lists for the vectors' key (Bech32 computed by a
  /// separate Python implementation when the document was written).
  @Test func recipientStringOfTheVectorKey() throws {
    let pair = try X25519KeyPair(secretKey: SecretBytes(copying: Self.recipientSecret))
    #expect(
      Hex.encode(pair.publicKey)
        == "605a725d2a4adfeeb1a29e17edd621c1b7593ee8cdbc44ac6c4ab6e2f805d23c")
    #expect(
      Recipient.encode(x25519PublicKey: pair.publicKey)
        == "lockstep1vpd8yhf2ft07avdznct7m43pcxm4j0hgek7yftrvf2mw97q96g7qxah3v8")
  }

  @Test func vector2Bytes() throws {
    let bytes = try Self.vector2()
    #expect(bytes.count == 175 + 65552 + 21)
    #expect(Hex.encode(bytes.prefix(175)) == Self.vector2Header.filter { !$0.isWhitespace })
    #expect(Hex.encode(SHA256.hash(bytes)) == Self.vector2SHA256)
  }

  /// The tag docs/format.md lists (computed with Python's hmac and hashlib when the
  /// document was written), against the library's derivation.
  @Test func recipientTagOfTheVectorKey() throws {
    let pair = try X25519KeyPair(secretKey: SecretBytes(copying: Self.recipientSecret))
    let tag = EnvelopeKeys.recipientTag(
      SecretBytes(copying: Self.range(0x00, 32)), publicKey: pair.publicKey)
    #expect(Hex.encode(tag) == Self.recipientTag)
  }

  /// Files written before version 2 still open, with either recipient, signature checked.
  @Test func version1VectorsStillOpen() throws {
    let recipient = try X25519KeyPair(secretKey: SecretBytes(copying: Self.recipientSecret))
    let signer = try Ed25519KeyPair(seed: SecretBytes(copying: Self.signingSeed))
    let v1 = Self.bytes(Self.version1Vector1Hex)
    for identity: Identity in [
      .x25519(recipient), .passphrase(SecretBytes(utf8: Self.passphrase)),
    ] {
      let (plaintext, summary) = try EnvelopeFormat.decrypt(
        v1, identities: [identity], expectedSigner: signer.publicKey)
      #expect(plaintext.unsafeArray() == Array("hello, lockstep\n".utf8))
      #expect(summary.header.version == 1)
      #expect(summary.verifiedSigner == signer.publicKey)
    }
    // Version 1's vector 2 is the version-1 header before the same chunks.
    let chunks = Array(try Self.vector2().dropFirst(175))
    let v1Vector2 = Self.bytes(Self.version1Vector2Header) + chunks
    #expect(Hex.encode(SHA256.hash(v1Vector2)) == Self.version1Vector2SHA256)
    let (plaintext, _) = try EnvelopeFormat.decrypt(v1Vector2, identities: [.x25519(recipient)])
    #expect(plaintext.unsafeArray() == Self.vector2Plaintext())
  }

  /// Rewrapping version-1 vector 1 with its X25519 identity and no change gives exactly
  /// version-2 vector 1: the opened stanza gets its tag, the passphrase stanza, payload
  /// and signature are kept byte for byte.
  @Test func rewrapUpgradesVersion1ToVersion2() throws {
    let recipient = try X25519KeyPair(secretKey: SecretBytes(copying: Self.recipientSecret))
    let sink = MemoryStream()
    try EnvelopeFormat.rewrap(
      from: MemoryStream(Self.bytes(Self.version1Vector1Hex)), to: sink,
      identities: [.x25519(recipient)]
    ) { _ in }
    #expect(Hex.encode(sink.bytes) == Self.vector1Hex.filter { !$0.isWhitespace })
  }

  /// Decodes vector 1 in both versions by following docs/format.md step by step with only
  /// the Crypto primitives: evidence that the document suffices to write a decoder.
  @Test(arguments: [1, 2]) func independentDecoderOpensVector1(version: Int) throws {
    let bytes = Self.bytes(version == 1 ? Self.version1Vector1Hex : Self.vector1Hex)
    var offset = 0
    func take(_ count: Int) -> [UInt8] {
      defer { offset += count }
      return Array(bytes[offset..<(offset + count)])
    }
    #expect(take(8) == Array("LOCKSTEP".utf8))
    #expect(take(1) == [UInt8(version)])
    let flags = take(1)[0]
    #expect(flags == 1)
    let payloadSalt = take(32)
    let signer = take(32)
    let countBytes = take(2)
    let stanzaCount = Int(countBytes[0]) << 8 | Int(countBytes[1])
    #expect(stanzaCount == 2)
    var x25519Body: [UInt8] = []
    var argonBody: [UInt8] = []
    for _ in 0..<stanzaCount {
      let type = take(1)[0]
      let lengthBytes = take(2)
      let body = take(Int(lengthBytes[0]) << 8 | Int(lengthBytes[1]))
      if type == 1 { x25519Body = body }
      if type == 2 { argonBody = body }
    }
    let authenticated = Array(bytes[0..<offset])
    let mac = take(32)
    // Stanza 1: in version 2, a 16-byte recipient tag, then the X25519 sealed box.
    #expect(x25519Body.count == (version == 1 ? 80 : 96))
    let tag = Array(x25519Body.prefix(version == 1 ? 0 : 16))
    let identity = try X25519KeyPair(secretKey: SecretBytes(copying: Self.recipientSecret))
    let fileKey = try SealedBox.open(Array(x25519Body.dropFirst(tag.count)), with: identity)
    if version == 2 {
      let tagKey = HKDF.deriveKey(
        from: fileKey, salt: [], info: Array("lockstep v2 recipient tag".utf8),
        outputByteCount: 32)
      #expect(Array(HMACSHA256.authenticate(identity.publicKey, key: tagKey).prefix(16)) == tag)
    }
    // Stanza 2: Argon2id(passphrase, salt, t, m) keys a secretbox holding the same file key.
    let t = argonBody[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    let m = argonBody[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    let wrapKey = try Argon2id.deriveKey(
      from: SecretBytes(utf8: Self.passphrase), salt: Array(argonBody[8..<24]),
      parameters: Argon2idParameters(iterations: t, memoryKiB: m))
    #expect(try SecretBox.open(Array(argonBody[24...]), key: wrapKey) == fileKey)
    // Header MAC.
    let headerKey = HKDF.deriveKey(
      from: fileKey, salt: [], info: Array("lockstep v1 header".utf8), outputByteCount: 32)
    #expect(HMACSHA256.authenticate(authenticated, key: headerKey) == mac)
    // The single chunk (last flag set, counter 0) and the signature trailer.
    let payloadKey = HKDF.deriveKey(
      from: fileKey, salt: payloadSalt, info: Array("lockstep v1 payload".utf8),
      outputByteCount: 32)
    let chunk = Array(bytes[offset..<(bytes.count - 64)])
    let nonce: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    let plaintext = try AESGCM.open(chunk, key: payloadKey, nonce: nonce)
    #expect(plaintext.unsafeArray() == Array("hello, lockstep\n".utf8))
    let signature = Array(bytes.suffix(64))
    let message =
      Array("lockstep v1 signature".utf8) + [0] + signer + payloadSalt + SHA256.hash(chunk)
    #expect(Ed25519.isValidSignature(signature, for: message, publicKey: signer))
    #expect(signer == (try Ed25519KeyPair(seed: SecretBytes(copying: Self.signingSeed))).publicKey)
  }

  /// Vector 2's second chunk is the last: counter 1, flag 1; the first has flag 0.
  @Test func independentDecoderOpensVector2() throws {
    let bytes = try Self.vector2()
    let fileKey = SecretBytes(copying: Self.range(0x00, 32))
    let payloadKey = HKDF.deriveKey(
      from: fileKey, salt: Self.range(0x20, 32), info: Array("lockstep v1 payload".utf8),
      outputByteCount: 32)
    let first = Array(bytes[175..<(175 + 65552)])
    let second = Array(bytes[(175 + 65552)...])
    let p1 = try AESGCM.open(first, key: payloadKey, nonce: [UInt8](repeating: 0, count: 12))
    let p2 = try AESGCM.open(
      second, key: payloadKey, nonce: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    #expect(p1.unsafeArray() + p2.unsafeArray() == Self.vector2Plaintext())
  }
}
