import Crypto
import LockstepCore

/// Encrypts a stream into an envelope in constant memory: the header goes out at once,
/// then one sealed chunk per 64 KiB of plaintext, the last one flagged so that a reader
/// can tell the end from a truncation. Not `Sendable`: one stream, one thread.
///
/// Chunks are sealed in place in one buffer of `batch` slots of `sealedChunkSize` bytes,
/// written out with one system call per full buffer: plaintext goes into a slot (read
/// straight from the source by `write(from:)`, or copied from the caller by `write(_:)`),
/// and AES-GCM overwrites it with ciphertext and appends the tag. A full chunk is held
/// unsealed until more input arrives, because only then is it known not to be the last.
public final class EnvelopeWriter {
  public static let chunkSize = 65536
  static let sealedChunkSize = chunkSize + AESGCM.tagByteCount
  /// Slots per buffer: 8 × 64 KiB per read and per write keeps the buffer (512 KiB) inside
  /// a core's L2 cache; more slots saved no time and cost resident memory
  /// (docs/benchmarks.md).
  static let batch = 8

  private let sink: any ByteSink
  private let cipher: AESGCM
  private let signingKey: Ed25519KeyPair?
  private let transcript: SHA256?
  public let header: EnvelopeHeader
  private let slots: UnsafeMutableRawBufferPointer
  /// Slots `0..<sealed` hold sealed chunks waiting to be written.
  private var sealed = 0
  /// Plaintext bytes in slot `sealed`, the chunk not sealed yet.
  private var buffered = 0
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
    slots = .allocate(byteCount: Self.batch * Self.sealedChunkSize, alignment: 64)
    try header.encoded.withUnsafeBytes { try sink.write($0) }
  }

  deinit {
    // The slots held payload bytes before sealing, which may be secrets.
    slots.initializeMemory(as: UInt8.self, repeating: 0)
    slots.deallocate()
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
        try sealHeld(last: false)
      }
      let remaining = input.count - offset
      if buffered == 0 && remaining > Self.chunkSize {
        // Whole chunks straight from the caller's buffer into the slot, no copy: more
        // bytes follow them.
        try seal(
          UnsafeRawBufferPointer(rebasing: input[offset..<(offset + Self.chunkSize)]),
          last: false)
        offset += Self.chunkSize
        continue
      }
      let take = min(Self.chunkSize - buffered, remaining)
      (slot(sealed).baseAddress! + buffered).copyMemory(
        from: input.baseAddress! + offset, byteCount: take)
      buffered += take
      offset += take
    }
  }

  /// Encrypts everything `source` yields until it ends, reading the plaintext straight into
  /// the free slots (one scattered read per buffer) and sealing it where it lies. Call
  /// `finish()` afterwards.
  public func write(from source: any ByteSource) throws {
    precondition(!finished, "write after finish")
    while true {
      if buffered == Self.chunkSize && sealed == Self.batch - 1 {
        // The held chunk fills the last slot: write the others and move it to the first, so
        // that the next read has slots to fill after it.
        try flush()
        slots.baseAddress!.copyMemory(
          from: slots.baseAddress! + (Self.batch - 1) * Self.sealedChunkSize,
          byteCount: Self.chunkSize)
      }
      // The unfilled part of the held chunk's slot, then every free slot after it.
      var targets: [UnsafeMutableRawBufferPointer] = []
      if buffered < Self.chunkSize {
        targets.append(UnsafeMutableRawBufferPointer(rebasing: slot(sealed)[buffered...]))
      }
      for index in (sealed + 1)..<Self.batch { targets.append(slot(index)) }
      let wanted = targets.reduce(0) { $0 + $1.count }
      let got = try source.readFully(scattering: targets)
      // Seal every chunk known to be followed by more bytes; the last one read stays held.
      var available = buffered + got
      while available > Self.chunkSize {
        buffered = Self.chunkSize
        try sealHeld(last: false)
        available -= Self.chunkSize
      }
      buffered = available
      if got < wanted { return }
    }
  }

  /// Seals the final chunk and, when signing, appends the signature. Nothing may be written
  /// afterwards; a stream without `finish()` reads as truncated.
  public func finish() throws {
    precondition(!finished, "finish called twice")
    finished = true
    try sealHeld(last: true)
    try flush()
    if let signingKey, let transcript {
      let message = EnvelopeFormat.signatureMessage(
        signer: signingKey.publicKey, payloadSalt: header.payloadSalt,
        payloadDigest: transcript.finalize())
      try signingKey.signature(for: message).withUnsafeBytes { try sink.write($0) }
    }
  }

  /// Slot `index`'s plaintext part (its first `chunkSize` bytes; the tag follows).
  private func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
    let start = index * Self.sealedChunkSize
    return UnsafeMutableRawBufferPointer(rebasing: slots[start..<(start + Self.chunkSize)])
  }

  /// Seals the `buffered` bytes held in slot `sealed` in place.
  private func sealHeld(last: Bool) throws {
    let count = buffered
    buffered = 0
    try seal(UnsafeRawBufferPointer(rebasing: slot(sealed)[0..<count]), last: last)
  }

  /// Seals `chunk` (the held slot's plaintext, or the caller's) into slot `sealed`; writes
  /// the buffer out when that was its last slot.
  private func seal(_ chunk: UnsafeRawBufferPointer, last: Bool) throws {
    let start = sealed * Self.sealedChunkSize
    let output = UnsafeMutableRawBufferPointer(
      rebasing: slots[start..<(start + Self.sealedChunkSize)])
    let nonce = EnvelopeFormat.nonce(counter: counter, last: last)
    let count = try nonce.withUnsafeBytes { nonce in
      try cipher.seal(nonce: nonce, plaintext: chunk, into: output)
    }
    transcript?.update(UnsafeRawBufferPointer(rebasing: output[0..<count]))
    counter += 1
    sealed += 1
    if last {
      // The final chunk may be short: write up to its end, not the whole slot.
      try sink.write(UnsafeRawBufferPointer(rebasing: slots[0..<(start + count)]))
      sealed = 0
    } else if sealed == Self.batch {
      try flush()
    }
  }

  /// Writes the sealed slots (all full-size chunks) and frees them.
  private func flush() throws {
    guard sealed > 0 else { return }
    try sink.write(
      UnsafeRawBufferPointer(rebasing: slots[0..<(sealed * Self.sealedChunkSize)]))
    sealed = 0
  }
}
