import Envelope
import Foundation
import LockstepCore
import ObjectStore

#if canImport(Glibc)
  import Glibc
#endif

/// Where backups live: a local directory or a bucket prefix. Writes never leave a partial
/// backup under its final name.
public enum BackupDestination: Sendable, CustomStringConvertible {
  case directory(String)
  case bucket(ObjectLocation, any ObjectStore)

  /// A directory path, or `s3://…`/`gs://…` with a client from the environment.
  public static func parse(
    _ text: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> BackupDestination {
    if ObjectLocation.isObjectURL(text) {
      let location = try ObjectLocation(parsing: text)
      return .bucket(location, try ObjectStores.client(for: location, environment: environment))
    }
    return .directory(text)
  }

  public var description: String {
    switch self {
    case .directory(let path): path
    case .bucket(let location, _): location.description
    }
  }

  /// One stored backup.
  public struct Entry: Sendable, Equatable {
    public let name: String
    /// Path or URL.
    public let location: String
    public let date: Date
    public let size: Int
  }

  /// Writes `bytes` as `name` and returns its path or URL.
  ///
  /// Directory: a 0600 temporary file beside the target, fsync, rename. Bucket: a temporary
  /// object, read back and compared, server-side copy to the final key, temporary deleted.
  public func write(name: String, bytes: [UInt8]) async throws -> String {
    switch self {
    case .directory(let directory):
      let path = (directory as NSString).appendingPathComponent(name)
      try Self.makeDirectory(directory)
      guard access(path, F_OK) != 0 else { throw BackupError.destinationExists(path) }
      let file = try AtomicFile(path: path, mode: 0o600)
      try bytes.withUnsafeBytes { try file.write($0) }
      try file.commit()
      return path
    case .bucket(let location, let store):
      let key = location.key(name)
      if try await store.head(key) != nil {
        throw BackupError.destinationExists(location.url(key: key))
      }
      let temporary = location.key(".\(name).\(UUID().uuidString.prefix(8).lowercased()).tmp")
      do {
        try await store.put(temporary, bytes)
        let readBack = try await store.get(temporary)
        guard readBack == bytes else {
          throw BackupError.uploadVerificationFailed(location.url(key: temporary))
        }
        try await store.copy(from: temporary, to: key)
        try await store.delete(temporary)
      } catch {
        try? await store.delete(temporary)
        throw error
      }
      return location.url(key: key)
    }
  }

  /// Fails early (before reading Vault) when the destination cannot take a backup: the
  /// bucket is missing, the credentials are refused, the endpoint does not answer.
  public func preflight() async throws {
    if case .bucket(_, let store) = self { _ = try await store.check() }
  }

  public func exists(name: String) async throws -> Bool {
    switch self {
    case .directory(let directory):
      return access((directory as NSString).appendingPathComponent(name), F_OK) == 0
    case .bucket(let location, let store):
      return try await store.exists(location.key(name))
    }
  }

  /// Backups here, newest first.
  public func list() async throws -> [Entry] {
    try await listing().entries
  }

  /// Backups here, newest first, and the names that look like backups
  /// (`lockstep-backup-…`) but do not parse as one: `prune` reports them and leaves them.
  public func listing() async throws -> (entries: [Entry], unparseable: [String]) {
    var entries: [Entry] = []
    var unparseable: [String] = []
    switch self {
    case .directory(let directory):
      let names: [String]
      do {
        names = try FileManager.default.contentsOfDirectory(atPath: directory)
      } catch {
        throw BackupError.io("Could not list the directory \(directory).")
      }
      for name in names {
        guard let date = BackupName.date(of: name) else {
          if name.hasPrefix(BackupName.prefix) { unparseable.append(name) }
          continue
        }
        let path = (directory as NSString).appendingPathComponent(name)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        entries.append(Entry(name: name, location: path, date: date, size: size))
      }
    case .bucket(let location, let store):
      // The folder, not the raw prefix: `s3://b/vault` lists `vault/…`, never `vault2/…`.
      for object in try await store.list(prefix: location.folder) {
        let name = String(object.key.dropFirst(location.folder.count))
        guard !name.contains("/"), let date = BackupName.date(of: name) else {
          if name.hasPrefix(BackupName.prefix) { unparseable.append(name) }
          continue
        }
        entries.append(
          Entry(name: name, location: location.url(key: object.key), date: date, size: object.size))
      }
    }
    let sorted = entries.sorted {
      ($0.date, BackupName.sequence(of: $0.name)) > ($1.date, BackupName.sequence(of: $1.name))
    }
    return (sorted, unparseable.sorted())
  }

  public func delete(_ entry: Entry) async throws {
    switch self {
    case .directory:
      guard unlink(entry.location) == 0 || errno == ENOENT else {
        throw BackupError.io(
          "Could not delete \(entry.location): \(String(cString: strerror(errno))).")
      }
    case .bucket(let location, let store):
      try await store.delete(location.key(entry.name))
    }
  }

  /// Deletes `entry` unless S3 Object Lock still retains it (prune).
  public func deleteUnlessRetained(_ entry: Entry) async throws -> DeletionOutcome {
    switch self {
    case .directory:
      try await delete(entry)
      return .deleted
    case .bucket(let location, let store):
      return try await store.deleteUnlessRetained(location.key(entry.name))
    }
  }

  /// Reads one backup named by a path or an object URL.
  /// Splits `entries` into those whose file starts with a well-formed envelope header and
  /// those that do not (`prune --verify-headers`): junk under a backup's name is then
  /// neither counted nor removed.
  public static func checkHeaders(
    _ entries: [Entry], environment: [String: String] = ProcessInfo.processInfo.environment
  ) async throws -> (valid: [Entry], invalid: [Entry]) {
    var valid: [Entry] = []
    var invalid: [Entry] = []
    for entry in entries {
      let bytes = try await read(entry.location, environment: environment)
      if (try? EnvelopeHeader.read(from: MemoryStream(bytes))) != nil {
        valid.append(entry)
      } else {
        invalid.append(entry)
      }
    }
    return (valid, invalid)
  }

  public static func read(
    _ pathOrURL: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) async throws -> [UInt8] {
    if ObjectLocation.isObjectURL(pathOrURL) {
      let location = try ObjectLocation(parsing: pathOrURL)
      let store = try ObjectStores.client(for: location, environment: environment)
      return try await store.get(location.prefix)
    }
    guard let data = FileManager.default.contents(atPath: pathOrURL) else {
      throw BackupError.io("Could not read \(pathOrURL): no such file or not readable.")
    }
    return [UInt8](data)
  }

  /// Replaces one backup (rewrap) in place, keeping the no-partial-file guarantee.
  public static func replace(
    _ pathOrURL: String, with bytes: [UInt8],
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) async throws {
    if ObjectLocation.isObjectURL(pathOrURL) {
      let location = try ObjectLocation(parsing: pathOrURL)
      let store = try ObjectStores.client(for: location, environment: environment)
      let slash = location.prefix.lastIndex(of: "/")
      let folder = slash.map { String(location.prefix[...$0]) } ?? ""
      let name = String(location.prefix.dropFirst(folder.count))
      let temporary = folder + ".\(name).\(UUID().uuidString.prefix(8).lowercased()).tmp"
      do {
        try await store.put(temporary, bytes)
        guard try await store.get(temporary) == bytes else {
          throw BackupError.uploadVerificationFailed(location.url(key: temporary))
        }
        try await store.copy(from: temporary, to: location.prefix)
        try await store.delete(temporary)
      } catch {
        try? await store.delete(temporary)
        throw error
      }
      return
    }
    let file = try AtomicFile(path: pathOrURL, mode: 0o600)
    try bytes.withUnsafeBytes { try file.write($0) }
    try file.commit()
  }

  static func makeDirectory(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else { throw BackupError.io("\(path) is not a directory.") }
      return
    }
    guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
      throw BackupError.io("Could not create \(path): \(String(cString: strerror(errno))).")
    }
  }
}
