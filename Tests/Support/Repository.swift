import Foundation
import LockstepCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Paths inside this repository, for tests that run scripts or the built binary.
public enum Repository {
  /// The checkout's root, found from this file's location (Tests/Support/Repository.swift).
  public static let root: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
  }()

  /// The `lockstep` executable that `swift build` put beside the test bundle.
  public static var lockstepBinary: String {
    let candidates = [
      Bundle.main.bundleURL.appendingPathComponent("lockstep").path,
      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("lockstep").path,
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
      ?? root + "/.build/debug/lockstep"
  }
}

/// Temporary directories for servers and files under test, removed when the test process
/// exits (a killed process leaves them; CI machines are fresh).
public enum TemporaryDirectory {
  private static let made = Mutex<[String]?>(nil)

  /// `removeAtExit: false` for a server's directory: its watcher stops the server when the
  /// test process exits and then removes the directory; removing it first would take the
  /// PID file the watcher needs, and leave the server running.
  public static func make(
    prefix: String, in parent: String = NSTemporaryDirectory(), removeAtExit: Bool = true
  ) throws -> String {
    var template = Array((parent + "/\(prefix)-XXXXXX").utf8CString)
    guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) })
    else {
      throw CocoaError(.fileWriteUnknown)
    }
    let path = String(cString: created)
    guard removeAtExit else { return path }
    made.withLock { list in
      if list == nil { atexit { TemporaryDirectory.removeAll() } }
      list = (list ?? []) + [path]
    }
    return path
  }

  /// The per-user runtime directory `/tmp/lockstep-UID` that scripts/stack.sh also uses:
  /// mode 0711, so that servers running as other users (PostgreSQL as `postgres`) can
  /// reach their directories inside it whatever the permissions of the checkout, `$TMPDIR`
  /// or `$HOME`. A path someone else made (a symlink, another owner) is refused.
  public static func runtime() throws -> String {
    let path = "/tmp/lockstep-\(getuid())"
    if mkdir(path, 0o711) != 0 && errno != EEXIST {
      throw UserError("could not create \(path): \(String(cString: strerror(errno)))")
    }
    var info = stat()
    guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid()
    else {
      throw UserError("\(path) is not a directory of this user's: remove it, then try again")
    }
    chmod(path, 0o711)
    return path
  }

  static func removeAll() {
    for path in made.withLock({ $0 ?? [] }) { try? FileManager.default.removeItem(atPath: path) }
  }
}
