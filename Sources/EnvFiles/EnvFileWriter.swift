import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// Writes secret files the way DESIGN.md requires: a 0600 temporary file in the target's
/// directory, fsync, rename over the target, fsync of the directory. A symbolic link at the
/// target is refused (renaming over it would be safe, but someone planted it), and an
/// existing file is only replaced when the caller says so.
public enum EnvFileWriter {
  /// Writes `content` to `path` and reports what changed against the file it replaced.
  @discardableResult
  public static func write(_ content: SecretBytes, to path: String, force: Bool)
    throws(EnvFilesError) -> EnvChanges
  {
    let previous = try existingDocument(at: path, force: force)
    let directory = Self.directory(of: path)
    let base = path.split(separator: "/").last.map(String.init) ?? path
    var template = Array("\(directory)/.\(base).lockstep-XXXXXX".utf8CString)
    let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard descriptor >= 0 else {
      throw .io(path: directory, operation: "create a temporary file in", errno: errno)
    }
    let temporary = String(
      decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    var renamed = false
    defer {
      if !renamed { unlink(temporary) }
    }
    do {
      defer { close(descriptor) }
      guard fchmod(descriptor, 0o600) == 0 else {
        throw EnvFilesError.io(path: temporary, operation: "set mode 0600 on", errno: errno)
      }
      let failure: Int32? = content.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
          let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
          if written < 0 {
            if errno == EINTR { continue }
            return errno
          }
          offset += written
        }
        return nil
      }
      if let failure { throw EnvFilesError.io(path: temporary, operation: "write", errno: failure) }
      guard fsync(descriptor) == 0 else {
        throw EnvFilesError.io(path: temporary, operation: "fsync", errno: errno)
      }
    }
    // Checked again just before the rename: the target may have changed meanwhile.
    _ = try existingDocument(at: path, force: force, parse: false)
    guard rename(temporary, path) == 0 else {
      throw .io(path: path, operation: "rename a temporary file onto", errno: errno)
    }
    renamed = true
    let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if directoryDescriptor >= 0 {
      fsync(directoryDescriptor)
      close(directoryDescriptor)
    }
    return EnvChanges(old: previous, new: DotenvParser.parse(content))
  }

  static func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let directory = String(path[..<slash])
    return directory.isEmpty ? "/" : directory
  }

  /// nil when there is no file; throws for a symlink, a non-file, or a file without `force`.
  static func existingDocument(at path: String, force: Bool, parse: Bool = true)
    throws(EnvFilesError) -> DotenvDocument?
  {
    var status = stat()
    guard lstat(path, &status) == 0 else {
      if errno == ENOENT { return nil }
      throw .io(path: path, operation: "inspect", errno: errno)
    }
    switch status.st_mode & S_IFMT {
    case S_IFLNK: throw .targetIsSymlink(path)
    case S_IFREG: break
    default: throw .targetIsNotAFile(path)
    }
    guard force else { throw .targetExists(path) }
    guard parse else { return nil }
    return try? DotenvFile.read(path)
  }
}
