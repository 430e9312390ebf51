import LockstepCore

/// What can stop `env render`; each description is one sentence with key names and paths
/// only, never a value.
public enum EnvFilesError: LockstepError, Equatable {
  /// Values the dialect cannot hold, by key name; nothing was written.
  case refused(dialect: DotenvDialect, keys: [RefusedKey])
  /// Placeholders naming keys the secret does not have.
  case unknownKeys(keys: [String], source: String)
  /// A key that no shell could export.
  case invalidName(String)
  case templateSyntax(line: Int, reason: String)
  case targetIsSymlink(String)
  case targetExists(String)
  case targetIsNotAFile(String)
  case io(path: String, operation: String, errno: Int32)

  public struct RefusedKey: Sendable, Equatable {
    public let name: String
    public let reason: RenderRefusal

    public init(name: String, reason: RenderRefusal) {
      self.name = name
      self.reason = reason
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .refused, .unknownKeys, .invalidName, .templateSyntax: return .dataError
    case .targetIsSymlink, .targetExists, .targetIsNotAFile, .io: return .failure
    }
  }

  public var description: String {
    switch self {
    case .refused(let dialect, let keys):
      let list = keys.map { "\($0.name) (\($0.reason))" }.joined(separator: "; ")
      return
        "cannot write \(keys.count == 1 ? "this value" : "these values") so that the \(dialect.rawValue) dialect reads \(keys.count == 1 ? "it" : "them") back exactly, so no file was written: \(list)"
    case .unknownKeys(let keys, let source):
      return "the template names \(keys.joined(separator: ", ")), which \(source) does not hold"
    case .invalidName(let name):
      return "\(name) is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)"
    case .templateSyntax(let line, let reason): return "template line \(line): \(reason)"
    case .targetIsSymlink(let path):
      return "\(path) is a symbolic link; refusing to write through it"
    case .targetExists(let path): return "\(path) exists; pass --force to replace it"
    case .targetIsNotAFile(let path): return "\(path) exists and is not a regular file"
    case .io(let path, let operation, let code):
      return "could not \(operation) \(path): \(String(cString: strerror(code)))"
    }
  }
}

#if canImport(Glibc)
  import Glibc
#endif
