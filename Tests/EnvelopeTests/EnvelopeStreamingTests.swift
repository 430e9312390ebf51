import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

/// The streaming paths: chunks read straight into the writer's slots (one `readv` per
/// buffer from a file descriptor) and sealed in place, chunks opened in place and written
/// with one `writev`. Every way of feeding the writer must give the same bytes, at every
/// chunk and buffer boundary, whatever the reads return.
@Suite struct EnvelopeStreamingTests {
  static let chunk = EnvelopeWriter.chunkSize
  /// Sizes around the chunk and the 8-chunk buffer boundaries.
  static let sizes = [
    0, 1, chunk - 1, chunk, chunk + 1, 7 * chunk, 8 * chunk - 1, 8 * chunk, 8 * chunk + 1,
    9 * chunk, 16 * chunk, 16 * chunk + 3, 25 * chunk + 100,
  ]

  static let recipient = try! X25519KeyPair(
    secretKey: SecretBytes(copying: [UInt8](repeating: 9, count: 32)))
  static let signer = try! Ed25519KeyPair(
    seed: SecretBytes(copying: [UInt8](repeating: 5, count: 32)))

  /// A writer whose every random draw is fixed, so two runs over the same plaintext must
  /// give the same bytes.
  static func writer(to sink: any ByteSink) throws -> EnvelopeWriter {
    try EnvelopeWriter(
      to: sink, recipients: [.x25519(publicKey: recipient.publicKey)], signingKey: signer,
      testRandomness: { [UInt8](repeating: 7, count: $0) })
  }

  static func plaintext(_ size: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 16) }
  }

  /// The envelope of `plaintext` written in one `write` call, and its header's length.
  static func pushWhole(_ plaintext: [UInt8]) throws -> (bytes: [UInt8], headerCount: Int) {
    let sink = MemoryStream()
    let writer = try writer(to: sink)
    try writer.write(plaintext)
    try writer.finish()
    return (sink.bytes, writer.header.encoded.count)
  }

  static func pull(from source: any ByteSource) throws -> [UInt8] {
    let sink = MemoryStream()
    let writer = try writer(to: sink)
    try writer.write(from: source)
    try writer.finish()
    return sink.bytes
  }

  /// A file holding `bytes`, open for reading; the caller closes it.
  static func openFile(_ bytes: [UInt8]) throws -> Int32 {
    let directory = try TemporaryDirectory.make(prefix: "envelope-stream")
    let path = directory + "/input"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let descriptor = open(path, O_RDONLY)
    try #require(descriptor >= 0)
    unlink(path)
    rmdir(directory)
    return descriptor
  }

  @Test(arguments: sizes)
  func everyWayOfFeedingTheWriterGivesTheSameBytes(_ size: Int) throws {
    let plaintext = Self.plaintext(size)
    let (reference, headerCount) = try Self.pushWhole(plaintext)
    let chunks = max(1, (size + Self.chunk - 1) / Self.chunk)
    // Header, every chunk with its tag, the signature.
    #expect(reference.count == headerCount + size + 16 * chunks + 64)

    // Pushed in uneven pieces.
    let sink = MemoryStream()
    let writer = try Self.writer(to: sink)
    var offset = 0
    var step = 1
    while offset < plaintext.count {
      step = step % 150_001 + 7919
      let end = min(plaintext.count, offset + step)
      try writer.write(Array(plaintext[offset..<end]))
      offset = end
    }
    try writer.finish()
    #expect(sink.bytes == reference)

    // Pulled: from memory, from a source that returns short reads, from a file (readv).
    #expect(try Self.pull(from: MemoryStream(plaintext)) == reference)
    #expect(try Self.pull(from: EnvelopeTests.TricklingSource(plaintext)) == reference)
    let descriptor = try Self.openFile(plaintext)
    defer { close(descriptor) }
    #expect(
      try Self.pull(from: FileDescriptorStream(descriptor: descriptor, name: "input")) == reference)

    let (opened, summary) = try EnvelopeFormat.decrypt(
      reference, identities: [.x25519(Self.recipient)], expectedSigner: Self.signer.publicKey)
    #expect(opened.unsafeArray() == plaintext)
    #expect(summary.chunkCount == UInt64(chunks))
  }

  /// A pipe whose writer hands over a few KiB at a time: `readv` returns short and the rest
  /// of each buffer is read piece by piece.
  @Test func aSlowPipeGivesTheSameBytesAsAFile() throws {
    let plaintext = Self.plaintext(11 * Self.chunk + 12_345)
    var ends: [Int32] = [0, 0]
    try #require(pipe(&ends) == 0)
    let (reader, writerEnd) = (ends[0], ends[1])
    let feeder = Thread {
      var offset = 0
      while offset < plaintext.count {
        let end = min(plaintext.count, offset + 3000)
        let wrote = plaintext[offset..<end].withUnsafeBytes {
          write(writerEnd, $0.baseAddress, $0.count)
        }
        if wrote <= 0 { break }
        offset += wrote
        if offset % 5 == 0 { usleep(100) }
      }
      close(writerEnd)
    }
    feeder.start()
    defer { close(reader) }
    let bytes = try Self.pull(from: FileDescriptorStream(descriptor: reader, name: "pipe"))
    #expect(bytes == (try Self.pushWhole(plaintext).bytes))
  }

  /// Decrypting to a file descriptor (one `writev` per buffer of chunks opened in place)
  /// writes exactly the plaintext, signed or not.
  @Test(arguments: [0, 1, chunk, 8 * chunk - 1, 8 * chunk, 8 * chunk + 1, 17 * chunk + 5])
  func decryptingToAFileWritesThePlaintext(_ size: Int) throws {
    let plaintext = Self.plaintext(size)
    for signed in [false, true] {
      let envelope = try EnvelopeFormat.encrypt(
        plaintext, to: [.x25519(publicKey: Self.recipient.publicKey)],
        signingKey: signed ? Self.signer : nil)
      let directory = try TemporaryDirectory.make(prefix: "envelope-stream")
      let path = directory + "/plain"
      let file = try AtomicFile(path: path)
      let summary = try EnvelopeFormat.decrypt(
        from: EnvelopeTests.TricklingSource(envelope), to: file,
        identities: [.x25519(Self.recipient)])
      try file.commit()
      #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == plaintext)
      #expect(summary.plaintextByteCount == UInt64(size))
      try FileManager.default.removeItem(atPath: directory)
    }
  }

  /// A chunk altered in the second buffer: what reached the sink before the error is a
  /// prefix of the plaintext that stops before the altered chunk (no unauthenticated byte
  /// is ever written).
  @Test func nothingOfAnAlteredChunkReachesTheSink() throws {
    let plaintext = Self.plaintext(20 * Self.chunk)
    let envelope = try EnvelopeFormat.encrypt(
      plaintext, to: [.x25519(publicKey: Self.recipient.publicKey)])
    let headerLength = envelope.count - plaintext.count - 16 * 20
    for altered in [0, 3, 8, 11, 19] {
      var copy = envelope
      copy[headerLength + altered * (Self.chunk + 16) + 100] ^= 0x01
      let sink = MemoryStream()
      #expect(throws: EnvelopeError.chunkAltered(index: UInt64(altered))) {
        try EnvelopeFormat.decrypt(
          from: MemoryStream(copy), to: sink, identities: [.x25519(Self.recipient)])
      }
      #expect(sink.bytes.count <= altered * Self.chunk)
      #expect(sink.bytes == Array(plaintext.prefix(sink.bytes.count)))
    }
  }
}
