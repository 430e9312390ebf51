#if canImport(Glibc)
  import Glibc
#endif

/// Where an envelope's bytes come from. `read` returns 0 only at the end of the input.
public protocol ByteSource: AnyObject {
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
  /// Fills `buffers` in order as `readFully` would fill their concatenation, and returns the
  /// bytes read: fewer than they hold only at the end of the input. A file descriptor does
  /// it with one `readv`, which lets the envelope read chunks straight into the slots it
  /// seals them in; the default reads the buffers one by one.
  func readFully(scattering buffers: [UnsafeMutableRawBufferPointer]) throws -> Int
}

/// Where an envelope's bytes go; `write` writes all of `bytes` or throws.
public protocol ByteSink: AnyObject {
  func write(_ bytes: UnsafeRawBufferPointer) throws
  /// Writes `parts` in order, all of them or throws. A file descriptor does it with one
  /// `writev` (chunks opened in place are separated by their tags); the default writes the
  /// parts one by one.
  func write(gathering parts: [UnsafeRawBufferPointer]) throws
}

extension ByteSource {
  /// Reads until `buffer` is full or the input ends; returns the bytes read.
  func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    var total = 0
    while total < buffer.count {
      let got = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
      if got == 0 { break }
      total += got
    }
    return total
  }

  public func readFully(scattering buffers: [UnsafeMutableRawBufferPointer]) throws -> Int {
    try readFully(scattering: buffers, skipping: 0)
  }

  /// Fills `buffers` after their first `skip` bytes (which the caller already has) one by
  /// one; returns the bytes read.
  fileprivate func readFully(scattering buffers: [UnsafeMutableRawBufferPointer], skipping: Int)
    throws -> Int
  {
    var skip = skipping
    var total = 0
    for buffer in buffers {
      if skip >= buffer.count {
        skip -= buffer.count
        continue
      }
      let wanted = buffer.count - skip
      let got = try readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[skip...]))
      total += got
      skip = 0
      if got < wanted { break }
    }
    return total
  }
}

extension ByteSink {
  public func write(gathering parts: [UnsafeRawBufferPointer]) throws {
    for part in parts where part.count > 0 { try write(part) }
  }
}

/// A file descriptor the caller owns (stdin, stdout, an open file); it is not closed here.
public final class FileDescriptorStream: ByteSource, ByteSink {
  public let descriptor: Int32
  private let name: String

  public init(descriptor: Int32, name: String) {
    self.descriptor = descriptor
    self.name = name
  }

  public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    while true {
      let got = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
      if got >= 0 { return got }
      if errno == EINTR { continue }
      throw EnvelopeError.io("could not read \(name): \(String(cString: strerror(errno)))")
    }
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    var offset = 0
    while offset < bytes.count {
      let wrote = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
      if wrote < 0 {
        if errno == EINTR { continue }
        throw writeError()
      }
      offset += wrote
    }
  }

  /// One `readv` for the common case (a file or a full pipe); whatever it leaves unfilled
  /// (a short pipe read, the end of the input) is read buffer by buffer.
  public func readFully(scattering buffers: [UnsafeMutableRawBufferPointer]) throws -> Int {
    let wanted = buffers.reduce(0) { $0 + $1.count }
    var vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
    var got: Int
    repeat {
      got = readv(descriptor, &vectors, Int32(vectors.count))
    } while got < 0 && errno == EINTR
    guard got >= 0 else {
      throw EnvelopeError.io("could not read \(name): \(String(cString: strerror(errno)))")
    }
    if got == 0 || got == wanted { return got }
    return got + (try readFully(scattering: buffers, skipping: got))
  }

  /// One `writev` for the common case; whatever it leaves (a signal, a pipe that took only
  /// part) is written part by part.
  public func write(gathering parts: [UnsafeRawBufferPointer]) throws {
    var vectors = parts.map {
      iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
    }
    var wrote: Int
    repeat {
      wrote = writev(descriptor, &vectors, Int32(vectors.count))
    } while wrote < 0 && errno == EINTR
    guard wrote >= 0 else { throw writeError() }
    var skip = wrote
    for part in parts {
      if skip >= part.count {
        skip -= part.count
        continue
      }
      try write(UnsafeRawBufferPointer(rebasing: part[skip...]))
      skip = 0
    }
  }

  private func writeError() -> EnvelopeError {
    .io("could not write \(name): \(String(cString: strerror(errno)))")
  }
}

/// Bytes in memory, for small payloads and tests.
public final class MemoryStream: ByteSource, ByteSink {
  public private(set) var bytes: [UInt8]
  private var position = 0

  public init(_ bytes: [UInt8] = []) { self.bytes = bytes }

  public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    let count = min(buffer.count, bytes.count - position)
    if count > 0 {
      bytes.withUnsafeBytes {
        buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: count)
      }
    }
    position += count
    return count
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    self.bytes.append(contentsOf: bytes)
  }
}
