#if canImport(Glibc)
  import Glibc
#endif

/// An output file that appears under its final name only when complete: bytes go to a new
/// temporary file (0600, `O_EXCL|O_NOFOLLOW`, so a planted symlink is never followed) in
/// the same directory, and `commit()` fsyncs and renames it into place. Without a commit
/// (an error, a crash of the check that follows) the temporary file is removed.
///
/// A path that names something other than a regular file is never replaced: renaming over
/// `/dev/null` (as root) would put a regular file in its place. A character device, FIFO or
/// socket (`/dev/null`, `/dev/stdout`, a named pipe) is written to directly, since it has no
/// final name to protect; a directory, or a symlink to a regular file, is refused.
public final class AtomicFile: ByteSink {
  public let path: String
  /// nil when writing straight to a device, FIFO or socket.
  private let temporaryPath: String?
  private let stream: FileDescriptorStream
  private var committed = false
  /// Its slot in `TemporaryFileCleanup`, so a SIGTERM/SIGINT/SIGHUP removes it too.
  private var cleanupSlot: Int?

  public init(path: String, mode: mode_t = 0o600) throws {
    self.path = path
    if let descriptor = try Self.openSpecial(path) {
      temporaryPath = nil
      stream = FileDescriptorStream(descriptor: descriptor, name: path)
      return
    }
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[..<$0]) } ?? "."
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    var descriptor: Int32 = -1
    var candidate = ""
    for _ in 0..<16 {
      let suffix = (0..<8).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
      candidate = "\(directory.isEmpty ? "/" : directory)/.\(name).\(suffix).tmp"
      descriptor = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
      if descriptor >= 0 || errno != EEXIST { break }
    }
    guard descriptor >= 0 else {
      throw EnvelopeError.io(
        "could not create a temporary file beside \(path): \(String(cString: strerror(errno)))")
    }
    temporaryPath = candidate
    stream = FileDescriptorStream(descriptor: descriptor, name: path)
    cleanupSlot = TemporaryFileCleanup.register(candidate)
  }

  /// An open descriptor when `path` is (or links to) a device, FIFO or socket; nil when it
  /// is a regular file or absent (the atomic path); throws for anything else.
  private static func openSpecial(_ path: String) throws -> Int32? {
    var link = stat()
    guard lstat(path, &link) == 0 else { return nil }
    var target = link
    if link.st_mode & S_IFMT == S_IFLNK, stat(path, &target) != 0 { target = link }
    switch target.st_mode & S_IFMT {
    case S_IFREG:
      guard link.st_mode & S_IFMT != S_IFLNK else {
        throw EnvelopeError.io(
          "\(path) is a symbolic link; give the path of the file it points to, so that the "
            + "link is not replaced by a file")
      }
      return nil
    case S_IFCHR, S_IFIFO, S_IFSOCK:
      let descriptor = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
      guard descriptor >= 0 else {
        throw EnvelopeError.io("could not open \(path): \(String(cString: strerror(errno)))")
      }
      return descriptor
    case S_IFDIR:
      throw EnvelopeError.io("\(path) is a directory; give a file name")
    case S_IFLNK:
      throw EnvelopeError.io("\(path) is a symbolic link that points nowhere; nothing was written")
    default:
      throw EnvelopeError.io("\(path) is neither a regular file nor a device; nothing was written")
    }
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    try stream.write(bytes)
  }

  public func write(gathering parts: [UnsafeRawBufferPointer]) throws {
    try stream.write(gathering: parts)
  }

  /// Flushes to disk and renames over `path`, replacing the regular file there. For a
  /// device, FIFO or socket: closes it.
  public func commit() throws {
    guard let temporaryPath else {
      committed = true
      guard close(stream.descriptor) == 0 else {
        throw EnvelopeError.io("could not write \(path): \(String(cString: strerror(errno)))")
      }
      return
    }
    guard fsync(stream.descriptor) == 0 else {
      throw EnvelopeError.io("could not write \(path): \(String(cString: strerror(errno)))")
    }
    guard close(stream.descriptor) == 0 else {
      throw EnvelopeError.io("could not write \(path): \(String(cString: strerror(errno)))")
    }
    committed = true
    defer { TemporaryFileCleanup.unregister(cleanupSlot) }
    guard rename(temporaryPath, path) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(temporaryPath)
      throw EnvelopeError.io("could not move the output into place at \(path): \(reason)")
    }
  }

  /// Removes the temporary file now (a failed backup), rather than when this object is
  /// released, which may be later than the caller's error report. Idempotent; nothing may
  /// be written afterwards.
  public func discard() {
    guard !committed else { return }
    committed = true
    close(stream.descriptor)
    if let temporaryPath { unlink(temporaryPath) }
    TemporaryFileCleanup.unregister(cleanupSlot)
  }

  deinit {
    if !committed {
      close(stream.descriptor)
      if let temporaryPath { unlink(temporaryPath) }
      TemporaryFileCleanup.unregister(cleanupSlot)
    }
  }
}

/// A source that first replays bytes already read (the magic used to tell envelopes from
/// legacy files), then continues with the underlying source.
public final class PrefixedSource: ByteSource {
  private var prefix: [UInt8]
  private let rest: any ByteSource

  public init(prefix: [UInt8], rest: any ByteSource) {
    self.prefix = prefix
    self.rest = rest
  }

  public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard prefix.isEmpty else {
      let count = min(prefix.count, buffer.count)
      prefix.withUnsafeBytes {
        buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count)
      }
      prefix.removeFirst(count)
      return count
    }
    return try rest.read(into: buffer)
  }
}
