import Crypto
import LockstepCore

/// Encrypts a stream into an envelope in constant memory: the header goes out at once,
/// then one sealed chunk per 64 KiB of plaintext, the last one flagged so that a reader
/// can tell the end from a truncation. Not `Sendable`: one stream, one thread.
public final class EnvelopeWriter {
  public static let chunkSize = 65536
  static let sealedChunkSize = chunkSize + AESGCM.tagByteCount

  private let sink: any ByteSink
  private let cipher: AESGCM
  private let signingKey: Ed25519KeyPair?
  private let transcript: SHA256?
  public let header: EnvelopeHeader
  private let plaintext: UnsafeMutableRawBufferPointer
  private let sealed: UnsafeMutableRawBufferPointer
  private var buffered = 0
  /// Sealed chunks waiting to be written: one write per `batch` chunks.
  private var pending = 0
  private static let batch = 16
  private var counter: UInt64 = 0
  private var finished = false

  /// - Parameters:
  ///   - fileKey: a caller-chosen file key (when the caller wrapped it itself, e.g. with
  ///     Vault Transit, for a `.prewrapped` recipient); random by default.
  ///   - testRandomness: for test vectors only: supplies every random value in the order
  ///     docs/format.md lists, so the output is reproducible.
  public init(
    to sink: any ByteSink, recipients: [Recipient], signingKey: Ed25519KeyPair? = nil,
    fileKey: SecretBytes? = nil, testRandomness: ((Int) -> [UInt8])? = nil
  ) throws {
    let random = testRandomness ?? { CryptoRandom.bytes(count: $0) }
    let fileKey =
      fileKey
      ?? (testRandomness.map { draw in
        var bytes = draw(32)
        return SecretBytes(consuming: &bytes)
      } ?? SecretBytes.random(count: 32))
    guard fileKey.count == 32 else {
      throw CryptoError.invalidLength(what: "file key", expected: 32, actual: fileKey.count)
    }
    let payloadSalt = random(32)
    var stanzas: [EnvelopeHeader.Stanza] = []
    for recipient in recipients {
      stanzas.append(
        try Self.wrap(fileKey, for: recipient, random: random, deterministic: testRandomness != nil)
      )
    }
    header = try EnvelopeHeader.make(
      fileKey: fileKey, payloadSalt: payloadSalt, signerPublicKey: signingKey?.publicKey,
      stanzas: stanzas)
    self.sink = sink
    self.signingKey = signingKey
    transcript = signingKey == nil ? nil : SHA256()
    cipher = try AESGCM(
      key: EnvelopeKeys.payload(fileKey, salt: payloadSalt), direction: .seal)
    plaintext = .allocate(byteCount: Self.chunkSize, alignment: 64)
    sealed = .allocate(byteCount: Self.batch * Self.sealedChunkSize, alignment: 64)
    try header.encoded.withUnsafeBytes { try sink.write($0) }
  }

  deinit {
    // The plaintext buffer held payload bytes, which may be secrets.
    plaintext.initializeMemory(as: UInt8.self, repeating: 0)
    plaintext.deallocate()
    sealed.deallocate()
  }

  static func wrap(
    _ fileKey: SecretBytes, for recipient: Recipient, random: (Int) -> [UInt8],
    deterministic: Bool
  ) throws -> EnvelopeHeader.Stanza {
    switch recipient {
    case .x25519(let publicKey):
      var seed: SecretBytes?
      if deterministic {
        var bytes = random(32)
        seed = SecretBytes(consuming: &bytes)
      }
      return .init(
        type: EnvelopeHeader.Stanza.x25519,
        body: try EnvelopeKeys.x25519Body(fileKey, publicKey: publicKey, ephemeralSeed: seed))
    case .passphrase(let passphrase, let parameters):
      let salt = random(Argon2id.saltByteCount)
      let nonce = random(SecretBox.nonceByteCount)
      let key = try Argon2id.deriveKey(from: passphrase, salt: salt, parameters: parameters)
      var body: [UInt8] = []
      body.appendBigEndian(parameters.iterations)
      body.appendBigEndian(parameters.memoryKiB)
      body += salt
      body += try SecretBox.seal(fileKey, key: key, nonce: nonce)
      return .init(type: EnvelopeHeader.Stanza.argon2id, body: body)
    case .prewrapped(let type, let body):
      return .init(type: type, body: body)
    }
  }

  public func write(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try write($0) }
  }

  public func write(_ input: UnsafeRawBufferPointer) throws {
    precondition(!finished, "write after finish")
    var offset = 0
    while offset < input.count {
      if buffered == Self.chunkSize {
        // More data follows, so the held chunk is not the last one.
        try seal(UnsafeRawBufferPointer(plaintext), last: false)
        buffered = 0
      }
      let remaining = input.count - offset
      if buffered == 0 && remaining > Self.chunkSize {
        // Whole chunks straight from the caller's buffer, no copy: more bytes follow them.
        try seal(
          UnsafeRawBufferPointer(rebasing: input[offset..<(offset + Self.chunkSize)]),
          last: false)
        offset += Self.chunkSize
        continue
      }
      let take = min(Self.chunkSize - buffered, remaining)
      (plaintext.baseAddress! + buffered).copyMemory(
        from: input.baseAddress! + offset, byteCount: take)
      buffered += take
      offset += take
    }
  }

  /// Seals the final chunk and, when signing, appends the signature. Nothing may be written
  /// afterwards; a stream without `finish()` reads as truncated.
  public func finish() throws {
    precondition(!finished, "finish called twice")
    finished = true
    try seal(UnsafeRawBufferPointer(rebasing: plaintext[0..<buffered]), last: true)
    buffered = 0
    try flush()
    if let signingKey, let transcript {
      let message = EnvelopeFormat.signatureMessage(
        signer: signingKey.publicKey, payloadSalt: header.payloadSalt,
        payloadDigest: transcript.finalize())
      try signingKey.signature(for: message).withUnsafeBytes { try sink.write($0) }
    }
  }

  private func seal(_ chunk: UnsafeRawBufferPointer, last: Bool) throws {
    if pending + Self.sealedChunkSize > sealed.count { try flush() }
    let nonce = EnvelopeFormat.nonce(counter: counter, last: last)
    let count = try nonce.withUnsafeBytes { nonce in
      try cipher.seal(
        nonce: nonce, plaintext: chunk,
        into: UnsafeMutableRawBufferPointer(rebasing: sealed[pending...]))
    }
    transcript?.update(UnsafeRawBufferPointer(rebasing: sealed[pending..<(pending + count)]))
    pending += count
    counter += 1
  }

  private func flush() throws {
    guard pending > 0 else { return }
    try sink.write(UnsafeRawBufferPointer(rebasing: sealed[0..<pending]))
    pending = 0
  }
}
