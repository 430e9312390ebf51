import Crypto
import Envelope
import LockstepCore
import Testing

/// Round trips and every bad input of issue 4 that concerns the format.
@Suite struct EnvelopeTests {
  static let cheap = Argon2idParameters.testing

  /// A source that hands out bytes in small, uneven reads, as a pipe does.
  final class TricklingSource: ByteSource {
    let bytes: [UInt8]
    var position = 0
    var step = 1
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
      step = step % 9973 + 7919
      let count = min(buffer.count, bytes.count - position, step)
      for index in 0..<count { buffer[index] = bytes[position + index] }
      position += count
      return count
    }
  }

  func decrypt(_ envelope: [UInt8], _ identities: [Identity], signer: [UInt8]? = nil) throws
    -> [UInt8]
  {
    try EnvelopeFormat.decrypt(envelope, identities: identities, expectedSigner: signer)
      .plaintext.unsafeArray()
  }

  @Test(arguments: [0, 1, 100, 65535, 65536, 65537, 3 * 65536, 3 * 65536 + 12345])
  func roundTripAtChunkBoundaries(_ size: Int) throws {
    let identity = try X25519KeyPair.generate()
    let plaintext = CryptoRandom.bytes(count: size)
    let envelope = try EnvelopeFormat.encrypt(
      plaintext, to: [.x25519(publicKey: identity.publicKey)])
    let chunks = max(1, (size + 65535) / 65536)
    // Stanza: type, length, 16-byte recipient tag, 80-byte sealed box (format version 2).
    #expect(envelope.count == 8 + 1 + 1 + 32 + 2 + 3 + 96 + 32 + size + 16 * chunks)
    #expect(try decrypt(envelope, [.x25519(identity)]) == plaintext)
    // Streaming with uneven reads gives the same result.
    let sink = MemoryStream()
    let summary = try EnvelopeFormat.decrypt(
      from: TricklingSource(envelope), to: sink, identities: [.x25519(identity)])
    #expect(sink.bytes == plaintext)
    #expect(summary.chunkCount == UInt64(chunks))
    #expect(summary.plaintextByteCount == UInt64(size))
  }

  @Test func streamingEncryptMatchesInMemoryDecrypt() throws {
    let identity = try X25519KeyPair.generate()
    let plaintext = CryptoRandom.bytes(count: 700_001)
    let sink = MemoryStream()
    try EnvelopeFormat.encrypt(
      from: TricklingSource(plaintext), to: sink,
      recipients: [.x25519(publicKey: identity.publicKey)])
    #expect(try decrypt(sink.bytes, [.x25519(identity)]) == plaintext)
  }

  @Test func anyOneOfSeveralRecipientsOpens() throws {
    let alice = try X25519KeyPair.generate()
    let bob = try X25519KeyPair.generate()
    let plaintext = Array("DATABASE_URL=postgres://...".utf8)
    let envelope = try EnvelopeFormat.encrypt(
      plaintext,
      to: [
        .x25519(publicKey: alice.publicKey), .x25519(publicKey: bob.publicKey),
        .passphrase(SecretBytes(utf8: "pass phrase"), Self.cheap),
      ])
    #expect(try decrypt(envelope, [.x25519(alice)]) == plaintext)
    #expect(try decrypt(envelope, [.x25519(bob)]) == plaintext)
    #expect(try decrypt(envelope, [.passphrase(SecretBytes(utf8: "pass phrase"))]) == plaintext)
    // An unrelated identity listed first does not stop a later one from opening.
    #expect(
      try decrypt(envelope, [.x25519(try X25519KeyPair.generate()), .x25519(bob)]) == plaintext)
  }

  @Test func wrongIdentityOrPassphraseIsRefusedWith77() throws {
    let identity = try X25519KeyPair.generate()
    let envelope = try EnvelopeFormat.encrypt(
      [1, 2, 3],
      to: [
        .x25519(publicKey: identity.publicKey), .passphrase(SecretBytes(utf8: "right"), Self.cheap),
      ])
    let error = #expect(throws: EnvelopeError.noMatchingIdentity) {
      try decrypt(envelope, [.x25519(try X25519KeyPair.generate())])
    }
    #expect(error?.exitStatus == .noPermission)
    #expect(throws: EnvelopeError.noMatchingIdentity) {
      try decrypt(envelope, [.passphrase(SecretBytes(utf8: "wrong"))])
    }
  }

  /// Three chunks, so there is a first, a middle and a last one.
  func threeChunks() throws -> (X25519KeyPair, [UInt8], [UInt8], headerLength: Int) {
    let identity = try X25519KeyPair.generate()
    let plaintext = CryptoRandom.bytes(count: 2 * 65536 + 1000)
    let envelope = try EnvelopeFormat.encrypt(
      plaintext, to: [.x25519(publicKey: identity.publicKey)])
    return (identity, plaintext, envelope, 175)
  }

  @Test func flippedBitInHeaderFails() throws {
    let (identity, _, envelope, header) = try threeChunks()
    for position in [9, 10, 20, 45, 50, 100, 130, header - 1] {
      var altered = envelope
      altered[position] ^= 0x04
      #expect(throws: EnvelopeError.self) { try decrypt(altered, [.x25519(identity)]) }
    }
    // A bit in the payload salt or the MAC: the stanza still opens, the MAC does not match.
    for position in [20, header - 1] {
      var altered = envelope
      altered[position] ^= 0x04
      #expect(throws: EnvelopeError.headerAltered) { try decrypt(altered, [.x25519(identity)]) }
    }
  }

  @Test func flippedBitInMiddleAndLastChunkFails() throws {
    let (identity, _, envelope, header) = try threeChunks()
    var middle = envelope
    middle[header + 65552 + 300] ^= 0x01
    let error = #expect(throws: EnvelopeError.chunkAltered(index: 1)) {
      try decrypt(middle, [.x25519(identity)])
    }
    #expect(error?.exitStatus == .mismatch)
    var last = envelope
    last[envelope.count - 3] ^= 0x80
    #expect(throws: EnvelopeError.chunkAltered(index: 2)) { try decrypt(last, [.x25519(identity)]) }
  }

  @Test func truncationFails() throws {
    let (identity, _, envelope, header) = try threeChunks()
    // Cut exactly after a full chunk: the chunk opens, but not as the last one.
    #expect(throws: EnvelopeError.truncated) {
      try decrypt(Array(envelope.prefix(header + 2 * 65552)), [.x25519(identity)])
    }
    #expect(throws: EnvelopeError.truncated) {
      try decrypt(Array(envelope.prefix(header + 65552)), [.x25519(identity)])
    }
    // Cut inside the last chunk, inside a middle chunk, right after the header, in the header.
    #expect(throws: EnvelopeError.chunkAltered(index: 2)) {
      try decrypt(Array(envelope.dropLast(1)), [.x25519(identity)])
    }
    #expect(throws: EnvelopeError.chunkAltered(index: 1)) {
      try decrypt(Array(envelope.prefix(header + 65552 + 1000)), [.x25519(identity)])
    }
    #expect(throws: EnvelopeError.truncated) {
      try decrypt(Array(envelope.prefix(header)), [.x25519(identity)])
    }
    // Cut inside the header: nothing can be authenticated yet, a malformed header (65).
    #expect(throws: EnvelopeError.malformedHeader("the file ends inside its header")) {
      try decrypt(Array(envelope.prefix(100)), [.x25519(identity)])
    }
  }

  @Test func appendedDataFails() throws {
    let (identity, _, envelope, _) = try threeChunks()
    #expect(throws: EnvelopeError.chunkAltered(index: 2)) {
      try decrypt(envelope + [0], [.x25519(identity)])
    }
    // A whole extra copy of the last chunk after it.
    let lastChunk = Array(envelope.suffix(1016))
    #expect(throws: EnvelopeError.self) { try decrypt(envelope + lastChunk, [.x25519(identity)]) }
  }

  @Test func reorderedChunksFail() throws {
    let (identity, _, envelope, header) = try threeChunks()
    let first = envelope[header..<(header + 65552)]
    let second = envelope[(header + 65552)..<(header + 2 * 65552)]
    let swapped =
      Array(envelope[0..<header]) + second + first + envelope[(header + 2 * 65552)...]
    #expect(throws: EnvelopeError.chunkAltered(index: 0)) {
      try decrypt(swapped, [.x25519(identity)])
    }
  }

  @Test func unknownVersionAndForeignFilesAreRefusedWith65() throws {
    let (identity, _, envelope, _) = try threeChunks()
    var future = envelope
    future[8] = 3
    let error = #expect(throws: EnvelopeError.unsupportedVersion(3)) {
      try decrypt(future, [.x25519(identity)])
    }
    #expect(error?.exitStatus == .dataError)
    #expect(throws: EnvelopeError.notAnEnvelope) {
      try decrypt(Array("PK\u{3}\u{4} a zip file".utf8), [.x25519(identity)])
    }
    #expect(throws: EnvelopeError.notAnEnvelope) { try decrypt([], [.x25519(identity)]) }
  }

  @Test func knownStanzasAreCheckedWhoeverOpensTheFile() throws {
    let identity = try X25519KeyPair.generate()
    // A passphrase stanza of 95 bytes and a Transit stanza without a line break: malformed
    // (65) even for a decoder holding only an X25519 identity (docs/format.md).
    for (type, body) in [(UInt8(2), [UInt8](repeating: 1, count: 95)), (3, Array("a/b".utf8))] {
      let envelope = try EnvelopeFormat.encrypt(
        [1], to: [.x25519(publicKey: identity.publicKey), .prewrapped(type: type, body: body)])
      let error = #expect(throws: EnvelopeError.self) {
        try decrypt(envelope, [.x25519(identity)])
      }
      #expect(error?.exitStatus == .dataError)
    }
    // An unknown type is skipped.
    let unknown = try EnvelopeFormat.encrypt(
      [1], to: [.x25519(publicKey: identity.publicKey), .prewrapped(type: 9, body: [1, 2])])
    #expect(try decrypt(unknown, [.x25519(identity)]) == [1])
  }

  /// The Ed25519 rules docs/format.md pins: the identity point as public key with the
  /// identity as R and S = 0 satisfies the bare equation [S]B = R + [k]A for every
  /// message; libsodium (and so Lockstep) refuses it, as it refuses a non-canonical S.
  @Test func ed25519RulesArePinned() throws {
    let identityPoint = [1] + [UInt8](repeating: 0, count: 31)
    let forged = identityPoint + [UInt8](repeating: 0, count: 32)
    let message =
      Array("lockstep v1 signature".utf8) + [0] + identityPoint
      + [UInt8](repeating: 7, count: 32) + [UInt8](repeating: 9, count: 32)
    #expect(!Ed25519.isValidSignature(forged, for: message, publicKey: identityPoint))
    let signer = try Ed25519KeyPair.generate()
    var signature = signer.signature(for: message)
    #expect(Ed25519.isValidSignature(signature, for: message, publicKey: signer.publicKey))
    // S + L (non-canonical S, same point): refused. L = 2^252 + 27742317777372353535851937790883648493.
    let order: [UInt8] = [
      0xED, 0xD3, 0xF5, 0x5C, 0x1A, 0x63, 0x12, 0x58, 0xD6, 0x9C, 0xF7, 0xA2, 0xDE, 0xF9, 0xDE,
      0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ]
    var carry = 0
    for index in 0..<32 {
      let sum = Int(signature[32 + index]) + Int(order[index]) + carry
      signature[32 + index] = UInt8(sum & 0xFF)
      carry = sum >> 8
    }
    #expect(!Ed25519.isValidSignature(signature, for: message, publicKey: signer.publicKey))
  }

  @Test func hostileArgon2ParametersAreRefusedBeforeDerivation() throws {
    var envelope = try EnvelopeFormat.encrypt(
      [1], to: [.passphrase(SecretBytes(utf8: "p"), Self.cheap)])
    // The stanza's memory field (bytes 4..<8 of its body; body starts after 8+1+1+32+2+3).
    let memory = 47 + 4
    envelope[memory] = 0xFF
    #expect(throws: EnvelopeError.self) {
      try decrypt(envelope, [.passphrase(SecretBytes(utf8: "p"))])
    }
  }

  @Test func signaturesVerifyAndBindTheSigner() throws {
    let identity = try X25519KeyPair.generate()
    let signer = try Ed25519KeyPair.generate()
    let plaintext = CryptoRandom.bytes(count: 70_000)
    let envelope = try EnvelopeFormat.encrypt(
      plaintext, to: [.x25519(publicKey: identity.publicKey)], signingKey: signer)
    let (opened, summary) = try EnvelopeFormat.decrypt(
      envelope, identities: [.x25519(identity)], expectedSigner: signer.publicKey)
    #expect(opened.unsafeArray() == plaintext)
    #expect(summary.verifiedSigner == signer.publicKey)
    var badSignature = envelope
    badSignature[envelope.count - 10] ^= 1
    #expect(throws: EnvelopeError.signatureInvalid) {
      try decrypt(badSignature, [.x25519(identity)])
    }
    #expect(throws: EnvelopeError.wrongSigner) {
      try decrypt(envelope, [.x25519(identity)], signer: try Ed25519KeyPair.generate().publicKey)
    }
    let unsigned = try EnvelopeFormat.encrypt(
      plaintext, to: [.x25519(publicKey: identity.publicKey)])
    #expect(throws: EnvelopeError.notSigned) {
      try decrypt(unsigned, [.x25519(identity)], signer: signer.publicKey)
    }
  }

  @Test func rewrapChangesRecipientsAndKeepsPayloadAndSignature() throws {
    let old = try X25519KeyPair.generate()
    let new = try X25519KeyPair.generate()
    let signer = try Ed25519KeyPair.generate()
    let plaintext = CryptoRandom.bytes(count: 100_000)
    let envelope = try EnvelopeFormat.encrypt(
      plaintext, to: [.x25519(publicKey: old.publicKey)], signingKey: signer)
    let sink = MemoryStream()
    try EnvelopeFormat.rewrap(
      from: MemoryStream(envelope), to: sink, identities: [.x25519(old)],
      recipients: [.x25519(publicKey: new.publicKey)])
    let rewrapped = sink.bytes
    #expect(Array(rewrapped.suffix(100_000)) == Array(envelope.suffix(100_000)))
    #expect(try decrypt(rewrapped, [.x25519(new)], signer: signer.publicKey) == plaintext)
    #expect(throws: EnvelopeError.noMatchingIdentity) { try decrypt(rewrapped, [.x25519(old)]) }
  }

  @Test func recipientStringsRoundTripAndCatchTypos() throws {
    let pair = try X25519KeyPair.generate()
    let text = Recipient.encode(x25519PublicKey: pair.publicKey)
    #expect(text.hasPrefix("lockstep1"))
    guard case .x25519(let parsed) = try Recipient(parsing: text) else {
      Issue.record("not an X25519 recipient")
      return
    }
    #expect(parsed == pair.publicKey)
    var typo = Array(text)
    typo[20] = typo[20] == "q" ? "p" : "q"
    #expect(throws: EnvelopeError.self) { try Recipient(parsing: String(typo)) }
    #expect(throws: EnvelopeError.self) { try Recipient(parsing: "age1abc") }
  }
}
