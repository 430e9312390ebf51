import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a `.env` file without following a symbolic link and without ever holding its
/// contents outside `SecretBytes`.
public enum DotenvFile {
  public static func read(_ path: String) throws(EnvFilesError) -> DotenvDocument {
    DotenvParser.parse(try contents(path))
  }

  public static func contents(_ path: String) throws(EnvFilesError) -> SecretBytes {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard descriptor >= 0 else {
      if errno == ELOOP { throw .targetIsSymlink(path) }
      throw .io(path: path, operation: "read", errno: errno)
    }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    defer { SecretBytes.wipe(&bytes) }
    var chunk = [UInt8](repeating: 0, count: 65_536)
    defer { SecretBytes.wipe(&chunk) }
    while true {
      let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw .io(path: path, operation: "read", errno: errno)
      }
      if count == 0 { break }
      bytes.append(contentsOf: chunk[0..<count])
    }
    return SecretBytes(copying: bytes)
  }
}
