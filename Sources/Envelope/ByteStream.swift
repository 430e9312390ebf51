#if canImport(Glibc)
  import Glibc
#endif

/// Where an envelope's bytes come from. `read` returns 0 only at the end of the input.
public protocol ByteSource: AnyObject {
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Where an envelope's bytes go; `write` writes all of `bytes` or throws.
public protocol ByteSink: AnyObject {
  func write(_ bytes: UnsafeRawBufferPointer) throws
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
        throw EnvelopeError.io("could not write \(name): \(String(cString: strerror(errno)))")
      }
      offset += wrote
    }
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
