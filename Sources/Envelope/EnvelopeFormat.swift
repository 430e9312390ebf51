import Crypto
import LockstepCore

/// Reading and writing envelopes (format version 1, specified in docs/format.md).
///
/// Decryption streams: plaintext reaches the sink chunk by chunk as each chunk
/// authenticates, and the whole file is known good only when `decrypt` returns. Callers
/// that write to a file must write to a temporary name and rename on success (the CLI
/// does), so that an altered or truncated file never leaves a plausible output behind.
public enum EnvelopeFormat {
  /// What `decrypt` learnt about the file.
  public struct Summary: Sendable {
    public let header: EnvelopeHeader
    /// The key that signed the file; set only when the signature verified.
    public let verifiedSigner: [UInt8]?
    public let plaintextByteCount: UInt64
    public let chunkCount: UInt64
  }

  /// 3 zero bytes, the 64-bit big-endian chunk counter, and 0x01 for the last chunk.
  static func nonce(counter: UInt64, last: Bool) -> [UInt8] {
    var nonce = [UInt8](repeating: 0, count: 12)
    for index in 0..<8 { nonce[3 + index] = UInt8((counter >> UInt64(56 - 8 * index)) & 0xFF) }
    nonce[11] = last ? 1 : 0
    return nonce
  }

  static let signatureContext = Array("lockstep v1 signature".utf8) + [0]

  /// What the Ed25519 key signs: a context string, the signer, the payload salt and the
  /// SHA-256 of every sealed chunk. The stanzas are left out so that `rewrap` keeps the
  /// signature valid.
  static func signatureMessage(signer: [UInt8], payloadSalt: [UInt8], payloadDigest: [UInt8])
    -> [UInt8]
  {
    signatureContext + signer + payloadSalt + payloadDigest
  }

  /// Streams `source` into an envelope on `sink`.
  public static func encrypt(
    from source: any ByteSource, to sink: any ByteSink, recipients: [Recipient],
    signingKey: Ed25519KeyPair? = nil
  ) throws {
    let writer = try EnvelopeWriter(to: sink, recipients: recipients, signingKey: signingKey)
    try writer.write(from: source)
    try writer.finish()
  }

  /// Encrypts a payload held in memory.
  public static func encrypt(
    _ plaintext: [UInt8], to recipients: [Recipient], signingKey: Ed25519KeyPair? = nil
  ) throws -> [UInt8] {
    let sink = MemoryStream()
    let writer = try EnvelopeWriter(to: sink, recipients: recipients, signingKey: signingKey)
    try writer.write(plaintext)
    try writer.finish()
    return sink.bytes
  }

  /// Decrypts an envelope held in memory. The plaintext is returned as `SecretBytes`.
  public static func decrypt(
    _ envelope: [UInt8], identities: [Identity], expectedSigner: [UInt8]? = nil
  ) throws -> (plaintext: SecretBytes, summary: Summary) {
    let sink = MemoryStream()
    let summary = try decrypt(
      from: MemoryStream(envelope), to: sink, identities: identities,
      expectedSigner: expectedSigner)
    var bytes = sink.bytes
    return (SecretBytes(consuming: &bytes), summary)
  }

  /// Finds the file key: the first stanza that one of `identities` opens. Throws
  /// `noMatchingIdentity` when none does, `headerAltered` when one does but the header MAC
  /// does not match.
  public static func unwrapFileKey(_ header: EnvelopeHeader, identities: [Identity]) throws
    -> SecretBytes
  {
    for identity in identities {
      if let key = try unwrap(header, with: identity) {
        guard header.isAuthentic(fileKey: key) else { throw EnvelopeError.headerAltered }
        return key
      }
    }
    throw EnvelopeError.noMatchingIdentity
  }

  private static func unwrap(_ header: EnvelopeHeader, with identity: Identity) throws
    -> SecretBytes?
  {
    switch identity {
    case .fileKey(let key):
      return key.count == 32 && header.isAuthentic(fileKey: key) ? key : nil
    case .x25519(let pair):
      for stanza in header.stanzas where stanza.type == EnvelopeHeader.Stanza.x25519 {
        // The recipient tag (version 2) is not consulted: it can only be checked with the
        // file key this is looking for.
        let sealedBox = try header.x25519Parts(stanza).sealedBox
        if let key = try? SealedBox.open(sealedBox, with: pair) { return key }
      }
      return nil
    case .passphrase(let passphrase):
      for stanza in header.stanzas where stanza.type == EnvelopeHeader.Stanza.argon2id {
        // Within the per-stanza ceiling, and the file within its budget (checked on read).
        let parameters = try EnvelopeHeader.argon2idParameters(stanza)
        let body = stanza.body
        let salt = Array(body[8..<24])
        let key = try Argon2id.deriveKey(from: passphrase, salt: salt, parameters: parameters)
        if let fileKey = try? SecretBox.open(Array(body[24...]), key: key) { return fileKey }
      }
      return nil
    }
  }

  /// Streams the envelope on `source` to plaintext on `sink`, checking the header MAC,
  /// every chunk, the end of the stream and, when present, the signature.
  @discardableResult
  public static func decrypt(
    from source: any ByteSource, to sink: any ByteSink, identities: [Identity],
    expectedSigner: [UInt8]? = nil
  ) throws -> Summary {
    let header = try EnvelopeHeader.read(from: source)
    if let expectedSigner {
      guard let signer = header.signerPublicKey else { throw EnvelopeError.notSigned }
      guard ConstantTime.equal(signer, expectedSigner) else { throw EnvelopeError.wrongSigner }
    }
    let fileKey = try unwrapFileKey(header, identities: identities)
    let cipher = try AESGCM(
      key: EnvelopeKeys.payload(fileKey, salt: header.payloadSalt), direction: .open)
    let trailer = header.signerPublicKey == nil ? 0 : Ed25519KeyPair.signatureByteCount
    let transcript = header.signerPublicKey == nil ? nil : SHA256()
    let sealedSize = EnvelopeWriter.sealedChunkSize
    // Up to `batch` sealed chunks per read, opened in place and written with one gathered
    // write, plus the trailer and one byte: enough to know whether the last chunk in hand
    // is followed by another one.
    let batch = EnvelopeWriter.batch
    let capacity = batch * sealedSize + trailer + 1
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
    // The last chunk is opened out of place: when it fails as the last one it is tried again
    // as a middle one (truncation or alteration?), which needs its ciphertext intact.
    let output = UnsafeMutableRawBufferPointer.allocate(
      byteCount: EnvelopeWriter.chunkSize, alignment: 64)
    defer {
      // Chunks opened in place leave plaintext in the input buffer.
      input.initializeMemory(as: UInt8.self, repeating: 0)
      input.deallocate()
      output.initializeMemory(as: UInt8.self, repeating: 0)
      output.deallocate()
    }
    var available = 0
    var counter: UInt64 = 0
    var plaintextCount: UInt64 = 0
    var opened: [UnsafeRawBufferPointer] = []
    opened.reserveCapacity(batch)
    while true {
      let wanted = capacity - available
      let got = try source.readFully(
        into: UnsafeMutableRawBufferPointer(rebasing: input[available...]))
      available += got
      let atEnd = got < wanted
      // Every chunk with at least trailer + 1 bytes behind it is not the last one. Nothing
      // of a batch is written unless all its chunks authenticate.
      var consumed = 0
      opened.removeAll(keepingCapacity: true)
      while available - consumed >= sealedSize + trailer + 1 {
        let chunk = UnsafeRawBufferPointer(rebasing: input[consumed..<(consumed + sealedSize)])
        transcript?.update(chunk)
        let count = try open(
          chunk, counter: counter, last: false, cipher: cipher,
          into: UnsafeMutableRawBufferPointer(
            rebasing: input[consumed..<(consumed + EnvelopeWriter.chunkSize)]))
        opened.append(UnsafeRawBufferPointer(rebasing: input[consumed..<(consumed + count)]))
        plaintextCount += UInt64(count)
        counter += 1
        consumed += sealedSize
      }
      if !opened.isEmpty { try sink.write(gathering: opened) }
      if consumed > 0 {
        let rest = available - consumed
        input.baseAddress!.copyMemory(from: input.baseAddress! + consumed, byteCount: rest)
        available = rest
      }
      if !atEnd { continue }
      // End of input: what is left is the last chunk and the trailer.
      let chunkLength = available - trailer
      guard chunkLength >= AESGCM.tagByteCount else { throw EnvelopeError.truncated }
      guard chunkLength > AESGCM.tagByteCount || counter == 0 else {
        // Writers never end with an empty chunk after a full one.
        throw EnvelopeError.chunkAltered(index: counter)
      }
      let chunk = UnsafeRawBufferPointer(rebasing: input[0..<chunkLength])
      let count: Int
      do {
        count = try open(chunk, counter: counter, last: true, cipher: cipher, into: output)
      } catch EnvelopeError.chunkAltered(let index) {
        // A full chunk that opens as "not last" means the stream was cut after it.
        if chunkLength == sealedSize
          && (try? open(chunk, counter: counter, last: false, cipher: cipher, into: output))
            != nil
        {
          throw EnvelopeError.truncated
        }
        throw EnvelopeError.chunkAltered(index: index)
      }
      transcript?.update(chunk)
      try sink.write(UnsafeRawBufferPointer(rebasing: output[0..<count]))
      plaintextCount += UInt64(count)
      counter += 1
      var verifiedSigner: [UInt8]?
      if let signer = header.signerPublicKey, let transcript {
        let signature = Array(UnsafeRawBufferPointer(rebasing: input[chunkLength..<available]))
        let message = signatureMessage(
          signer: signer, payloadSalt: header.payloadSalt, payloadDigest: transcript.finalize())
        guard Ed25519.isValidSignature(signature, for: message, publicKey: signer) else {
          throw EnvelopeError.signatureInvalid
        }
        verifiedSigner = signer
      }
      return Summary(
        header: header, verifiedSigner: verifiedSigner, plaintextByteCount: plaintextCount,
        chunkCount: counter)
    }
  }

  private static func open(
    _ chunk: UnsafeRawBufferPointer, counter: UInt64, last: Bool, cipher: AESGCM,
    into output: UnsafeMutableRawBufferPointer
  ) throws -> Int {
    do {
      return try nonce(counter: counter, last: last).withUnsafeBytes { nonce in
        try cipher.open(nonce: nonce, sealed: chunk, into: output)
      }
    } catch CryptoError.authenticationFailed {
      throw EnvelopeError.chunkAltered(index: counter)
    }
  }

  /// Changes who can open a file without touching its payload: unwraps the file key with
  /// `identities`, lets `edit` change the stanzas (identified with the same identities, see
  /// `RecipientStanzas`), writes a version-2 header for the result with the same payload
  /// salt and signer (the signature does not cover stanzas, so it stays valid), and copies
  /// the rest of `source` byte for byte. Nothing is written to `sink` when `edit` throws.
  ///
  /// With `signingKey`, the result is re-signed by that key instead: the whole file is
  /// first decrypted and checked (every chunk, and the old signature, which must be by
  /// `trustedSigner` when one is given), so a re-signature never vouches for chunks that do
  /// not open under the file key. The chunks stay byte for byte.
  public static func rewrap(
    from source: any ByteSource, to sink: any ByteSink, identities: [Identity],
    signingKey: Ed25519KeyPair? = nil, trustedSigner: [UInt8]? = nil,
    edit: (inout RecipientStanzas) throws -> Void
  ) throws {
    let old = try EnvelopeHeader.read(from: source)
    let fileKey = try unwrapFileKey(old, identities: identities)
    var stanzas = try RecipientStanzas(header: old, fileKey: fileKey, identities: identities)
    try edit(&stanzas)
    guard let signingKey else {
      try stanzas.header().encoded.withUnsafeBytes { try sink.write($0) }
      try copy(from: source, to: sink)
      return
    }
    let rest = MemoryStream()
    try copy(from: source, to: rest)
    let original = MemoryStream(old.encoded + rest.bytes)
    try decrypt(
      from: original, to: DiscardingSink(), identities: [.fileKey(fileKey)],
      expectedSigner: trustedSigner ?? old.signerPublicKey)
    let trailer = old.signerPublicKey == nil ? 0 : Ed25519KeyPair.signatureByteCount
    let chunks = Array(rest.bytes.dropLast(trailer))
    stanzas.signerPublicKey = signingKey.publicKey
    let header = try stanzas.header()
    let message = signatureMessage(
      signer: signingKey.publicKey, payloadSalt: header.payloadSalt,
      payloadDigest: SHA256.hash(chunks))
    try header.encoded.withUnsafeBytes { try sink.write($0) }
    try chunks.withUnsafeBytes { try sink.write($0) }
    try signingKey.signature(for: message).withUnsafeBytes { try sink.write($0) }
  }

  private static func copy(from source: any ByteSource, to sink: any ByteSink) throws {
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let got = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
      if got == 0 { break }
      try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
    }
  }

  /// `rewrap` that replaces every stanza with one per recipient in `recipients`.
  public static func rewrap(
    from source: any ByteSource, to sink: any ByteSink, identities: [Identity],
    recipients: [Recipient]
  ) throws {
    try rewrap(from: source, to: sink, identities: identities) { stanzas in
      stanzas.removeAll()
      for recipient in recipients { try stanzas.add(recipient) }
    }
  }
}

/// A sink that drops what it is given: for checking a file without keeping its plaintext.
final class DiscardingSink: ByteSink {
  func write(_ bytes: UnsafeRawBufferPointer) throws {}
  func write(gathering parts: [UnsafeRawBufferPointer]) throws {}
}
