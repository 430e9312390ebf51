import EnvFiles
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// `drift --fix`: appends the names a `keys:` inventory or a `dotenv:` file lacks (a
/// dotenv key with an empty value), and changes nothing else. The file's bytes stay an
/// exact prefix of the result: its line ending (LF or CRLF) is reused, and a last line
/// without a newline gets one before the first added name.
public enum DriftFix {
  public struct Change: Sendable, Equatable {
    public let source: String
    public let path: String
    public let keys: [String]
  }

  /// What each source lacks: a missing key is lacking from the compared source, an extra
  /// key from the expected one. Refuses, before writing anything, when a source that
  /// lacks a key is of a kind it cannot write.
  public static func plan(
    _ report: DriftReport, expected: SourceSpec, sources: [SourceSpec]
  ) throws(DriftFixError) -> [(spec: SourceSpec, keys: [String])] {
    var lacking: [(spec: SourceSpec, keys: Set<String>)] = []
    func add(_ spec: SourceSpec, _ keys: [String]) {
      guard !keys.isEmpty else { return }
      if let index = lacking.firstIndex(where: { $0.spec == spec }) {
        lacking[index].keys.formUnion(keys)
      } else {
        lacking.append((spec, Set(keys)))
      }
    }
    for (result, spec) in zip(report.sources, sources) {
      add(spec, result.missing.map(\.key))
      add(expected, result.extra.map(\.key))
    }
    for entry in lacking where path(of: entry.spec) == nil {
      throw DriftFixError(source: entry.spec.description)
    }
    return lacking.map { ($0.spec, $0.keys.sorted()) }
  }

  /// Appends each planned source's keys to its file.
  public static func apply(_ plan: [(spec: SourceSpec, keys: [String])]) throws -> [Change] {
    var changes: [Change] = []
    for (spec, keys) in plan {
      guard let path = path(of: spec) else { continue }
      let valid = keys.filter { DotenvParser.isValidName($0) }
      guard !valid.isEmpty else { continue }
      var isDotenv = false
      if case .dotenv = spec { isDotenv = true }
      try append(valid, to: path, assignments: isDotenv)
      changes.append(.init(source: spec.description, path: path, keys: valid))
    }
    return changes
  }

  static func path(of spec: SourceSpec) -> String? {
    switch spec {
    case .keys(let path), .dotenv(let path): return path
    default: return nil
    }
  }

  /// The file's own bytes, then one `NAME` (or `NAME=`) line per key.
  static func append(_ keys: [String], to path: String, assignments: Bool) throws {
    var status = stat()
    let mode = lstat(path, &status) == 0 ? status.st_mode & 0o7777 : 0o600
    let original = try DotenvFile.contents(path)
    var bytes = original.unsafeArray()
    defer { SecretBytes.wipe(&bytes) }
    let crlf = bytes.firstIndex(of: 0x0A).map { $0 > 0 && bytes[$0 - 1] == 0x0D } ?? false
    let newline: [UInt8] = crlf ? [0x0D, 0x0A] : [0x0A]
    if let last = bytes.last, last != 0x0A { bytes += newline }
    for key in keys { bytes += Array(key.utf8) + (assignments ? [0x3D] : []) + newline }
    try EnvFileWriter.write(SecretBytes(copying: bytes), to: path, force: true)
    // The writer makes every file 0600; an inventory keeps the mode it had.
    chmod(path, mode)
  }
}

/// `--fix` was asked to add keys to a source it cannot write (Vault, a cluster, code).
public struct DriftFixError: LockstepError, Equatable {
  public let source: String
  public var exitStatus: ExitStatus { .failure }
  public var description: String {
    "--fix cannot add keys to \(source): it writes only keys: and dotenv: files, and changed nothing"
  }
}
