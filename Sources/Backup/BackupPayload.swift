import Crypto
import Foundation
import LockstepCore
import Vault

/// The plaintext inside a backup envelope: JSON Lines, specified in docs/backup.md.
///
/// Every line but the data lines is a JSON object with a `record` field (`header`,
/// `metadata`, `secret`, `manifest`) and holds no secret. A `secret` record whose `state` is
/// `live` is followed by one data line: the base64 of the secret's `data` object as
/// `SecretMap.jsonObject()` writes it (every non-string value as Vault's exact JSON text),
/// so nested JSON, numbers, escapes and binary-looking values restore byte for byte, and
/// values are never decoded into a `String`.
public struct BackupPayload: Sendable {
  public static let formatName = "lockstep-vault-backup"
  public static let formatVersion = 1

  public struct Header: Codable, Sendable, Equatable {
    public var record = "header"
    public var format = BackupPayload.formatName
    public var version = BackupPayload.formatVersion
    /// ISO 8601 UTC.
    public var created: String
    public var vaultAddress: String
    public var sources: [Source]
    public var allVersions: Bool

    public struct Source: Codable, Sendable, Equatable {
      /// With its trailing slash, e.g. `secret/`.
      public var mount: String
      public var kvVersion: Int
      /// Below the mount; empty for the whole mount.
      public var prefix: String
    }

    enum CodingKeys: String, CodingKey {
      case record, format, version, created, sources
      case vaultAddress = "vault_address"
      case allVersions = "all_versions"
    }
  }

  /// KV v2 metadata of one path (only in full-history backups).
  public struct Metadata: Codable, Sendable, Equatable {
    public var record = "metadata"
    public var mount: String
    public var path: String
    public var currentVersion: Int
    public var oldestVersion: Int
    public var maxVersions: Int
    public var casRequired: Bool
    public var deleteVersionAfter: String?
    public var customMetadata: [String: String]
    public var versions: [Version]

    public struct Version: Codable, Sendable, Equatable {
      public var version: Int
      public var createdTime: String
      public var deletionTime: String
      public var destroyed: Bool

      enum CodingKeys: String, CodingKey {
        case version, destroyed
        case createdTime = "created_time"
        case deletionTime = "deletion_time"
      }
    }

    enum CodingKeys: String, CodingKey {
      case record, mount, path, versions
      case currentVersion = "current_version"
      case oldestVersion = "oldest_version"
      case maxVersions = "max_versions"
      case casRequired = "cas_required"
      case deleteVersionAfter = "delete_version_after"
      case customMetadata = "custom_metadata"
    }
  }

  public enum State: String, Codable, Sendable {
    case live, deleted, destroyed
  }

  /// One version of one secret. `data` is the JSON text of Vault's `data` object.
  public struct Secret: Sendable {
    public var mount: String
    public var path: String
    public var kvVersion: Int
    public var version: Int?
    public var createdTime: String?
    public var customMetadata: [String: String]
    public var state: State
    public var data: SecretBytes?

    public var fullPath: String { mount + path }
  }

  struct SecretLine: Codable {
    var record = "secret"
    var mount: String
    var path: String
    var kvVersion: Int
    var version: Int?
    var createdTime: String?
    var customMetadata: [String: String]?
    var state: State
    var size: Int

    enum CodingKeys: String, CodingKey {
      case record, mount, path, version, state, size
      case kvVersion = "kv_version"
      case createdTime = "created_time"
      case customMetadata = "custom_metadata"
    }
  }

  public struct Manifest: Codable, Sendable, Equatable {
    public var record = "manifest"
    /// Distinct secret paths.
    public var paths: Int
    /// Secret records (versions) including deleted and destroyed ones.
    public var versions: Int
    /// Sum of the data bytes.
    public var bytes: Int
    /// `mount/path` → hex SHA-256, see `pathDigests`.
    public var sha256: [String: String]
  }

  public var header: Header
  public var metadata: [Metadata]
  public var secrets: [Secret]

  public init(header: Header, metadata: [Metadata], secrets: [Secret]) {
    self.header = header
    self.metadata = metadata
    self.secrets = secrets
  }

  /// Per path, the SHA-256 over its records in order, each as
  /// `"<version> <state> <size>\n"` followed by the data bytes. Detects a changed, missing,
  /// reordered or added version without Vault.
  public func pathDigests() -> [String: String] {
    var hashers: [String: SHA256] = [:]
    var order: [String] = []
    for secret in secrets {
      let key = secret.fullPath
      let hasher: SHA256
      if let existing = hashers[key] {
        hasher = existing
      } else {
        hasher = SHA256()
        hashers[key] = hasher
        order.append(key)
      }
      hasher.update("\(secret.version ?? 0) \(secret.state.rawValue) \(secret.data?.count ?? 0)\n")
      secret.data?.withUnsafeBytes { hasher.update($0) }
    }
    var result: [String: String] = [:]
    for key in order { result[key] = Hex.encode(hashers[key]!.finalize()) }
    return result
  }

  public func makeManifest() -> Manifest {
    let digests = pathDigests()
    return Manifest(
      paths: digests.count, versions: secrets.count,
      bytes: secrets.reduce(0) { $0 + ($1.data?.count ?? 0) }, sha256: digests)
  }

  // MARK: - Encoding

  /// The payload bytes, in a buffer that wipes itself.
  public func encoded() throws -> SecretBuffer {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let buffer = SecretBuffer(capacity: 1 << 16)
    func line(_ value: some Encodable) throws {
      let data = try encoder.encode(value)
      data.withUnsafeBytes { buffer.append($0) }
      buffer.append(0x0A)
    }
    try line(header)
    for entry in metadata { try line(entry) }
    for secret in secrets {
      Self.writeLine(secret, to: buffer)
      if secret.state == .live {
        (secret.data ?? SecretBytes(copying: [])).withUnsafeBytes {
          Base64.encode($0, into: buffer)
        }
        buffer.append(0x0A)
      }
    }
    Self.writeLine(makeManifest(), to: buffer)
    return buffer
  }

  /// A secret record as JSONEncoder with sorted keys would write `SecretLine`, by hand:
  /// JSONEncoder took ~15 µs a line, most of the payload time of a 10,000-secret backup.
  /// `decode` reads it with JSONDecoder like any other line.
  static func writeLine(_ secret: Secret, to buffer: SecretBuffer) {
    var sink = buffer
    var first = true
    func key(_ name: String) {
      sink.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
      first = false
      JSONString.write(name, to: &sink)
      sink.append(UInt8(ascii: ":"))
    }
    if let created = secret.createdTime {
      key("created_time")
      JSONString.write(created, to: &sink)
    }
    if !secret.customMetadata.isEmpty {
      key("custom_metadata")
      for (index, name) in secret.customMetadata.keys.sorted().enumerated() {
        sink.append(index == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
        JSONString.write(name, to: &sink)
        sink.append(UInt8(ascii: ":"))
        JSONString.write(secret.customMetadata[name]!, to: &sink)
      }
      sink.append(UInt8(ascii: "}"))
    }
    key("kv_version")
    buffer.append(text: String(secret.kvVersion))
    key("mount")
    JSONString.write(secret.mount, to: &sink)
    key("path")
    JSONString.write(secret.path, to: &sink)
    key("record")
    JSONString.write("secret", to: &sink)
    key("size")
    buffer.append(text: String(secret.data?.count ?? 0))
    key("state")
    JSONString.write(secret.state.rawValue, to: &sink)
    if let version = secret.version {
      key("version")
      buffer.append(text: String(version))
    }
    buffer.append(UInt8(ascii: "}"))
    buffer.append(0x0A)
  }

  /// The manifest line, keys sorted (10,000 digests through JSONEncoder cost ~20 ms).
  static func writeLine(_ manifest: Manifest, to buffer: SecretBuffer) {
    var sink = buffer
    buffer.append(text: "{\"bytes\":\(manifest.bytes),\"paths\":\(manifest.paths),")
    buffer.append(text: "\"record\":\"manifest\",\"sha256\":{")
    for (index, path) in manifest.sha256.keys.sorted().enumerated() {
      if index > 0 { buffer.append(UInt8(ascii: ",")) }
      JSONString.write(path, to: &sink)
      buffer.append(UInt8(ascii: ":"))
      JSONString.write(manifest.sha256[path]!, to: &sink)
    }
    buffer.append(text: "},\"versions\":\(manifest.versions)}")
    buffer.append(0x0A)
  }

  // MARK: - Decoding

  /// Parses a decrypted payload and checks its manifest.
  public static func decode(_ plaintext: SecretBytes) throws -> BackupPayload {
    try plaintext.withUnsafeBytes { bytes in
      var lines: [Range<Int>] = []
      var start = 0
      for index in 0..<bytes.count where bytes[index] == 0x0A {
        lines.append(start..<index)
        start = index + 1
      }
      guard start == bytes.count else {
        throw BackupError.notABackup("the payload does not end with a complete line")
      }
      let decoder = JSONDecoder()
      func json<T: Decodable>(_ type: T.Type, _ range: Range<Int>) throws -> T {
        do {
          return try decoder.decode(
            T.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[range])))
        } catch {
          throw BackupError.notABackup("line \(lineNumber(range)) is not a valid record")
        }
      }
      func lineNumber(_ range: Range<Int>) -> Int { (lines.firstIndex(of: range) ?? 0) + 1 }
      func recordType(_ range: Range<Int>) throws -> String {
        struct Probe: Decodable { let record: String }
        return try json(Probe.self, range).record
      }

      guard let first = lines.first else { throw BackupError.notABackup("the payload is empty") }
      let header: Header
      do {
        header = try decoder.decode(
          Header.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[first])))
      } catch {
        throw BackupError.notABackup("it has no backup header")
      }
      guard header.format == formatName else {
        throw BackupError.notABackup("its format is '\(header.format)'")
      }
      guard header.version == formatVersion else {
        throw BackupError.notABackup(
          "its payload version \(header.version) is not supported by this lockstep")
      }
      var metadata: [Metadata] = []
      var secrets: [Secret] = []
      var manifest: Manifest?
      var index = 1
      while index < lines.count {
        let range = lines[index]
        index += 1
        guard manifest == nil else {
          throw BackupError.manifestMismatch("records follow the manifest")
        }
        switch try recordType(range) {
        case "metadata":
          metadata.append(try json(Metadata.self, range))
        case "secret":
          let line = try json(SecretLine.self, range)
          var data: SecretBytes?
          if line.state == .live {
            guard index < lines.count,
              let decoded = Base64.decode(UnsafeRawBufferPointer(rebasing: bytes[lines[index]]))
            else {
              throw BackupError.notABackup(
                "the data line of \(line.mount + line.path) is not base64")
            }
            index += 1
            guard decoded.count == line.size else {
              throw BackupError.manifestMismatch(
                "the data of \(line.mount + line.path) has \(decoded.count) bytes, not \(line.size)"
              )
            }
            data = decoded
          }
          secrets.append(
            Secret(
              mount: line.mount, path: line.path, kvVersion: line.kvVersion, version: line.version,
              createdTime: line.createdTime, customMetadata: line.customMetadata ?? [:],
              state: line.state, data: data))
        case "manifest":
          manifest = try json(Manifest.self, range)
        case let other:
          throw BackupError.notABackup("line \(index) has an unknown record type '\(other)'")
        }
      }
      guard let manifest else {
        throw BackupError.manifestMismatch("the manifest is missing (the payload is incomplete)")
      }
      let payload = BackupPayload(header: header, metadata: metadata, secrets: secrets)
      try payload.validate()
      try payload.check(against: manifest)
      return payload
    }
  }

  /// Every mount and path is a valid `VaultPath`; every record's mount is one of the
  /// header's sources and its path lies inside that source's prefix (whole segments). A
  /// backup is untrusted input: this runs on every decode and again before a restore.
  public func validate() throws {
    func path(_ text: String, _ what: String, allowEmpty: Bool = false) throws -> VaultPath {
      do {
        return try VaultPath(text, allowEmpty: allowEmpty)
      } catch {
        throw BackupError.notABackup("\(what) \(error.reason)")
      }
    }
    var sources: [VaultPath: VaultPath] = [:]
    for source in header.sources {
      let mount = try path(source.mount, "a source mount")
      guard !mount.isEmpty else { throw BackupError.notABackup("a source mount is empty") }
      sources[VaultPath(stripping: mount)] = try path(
        source.prefix, "a source prefix", allowEmpty: true)
    }
    func check(_ mountText: String, _ pathText: String) throws {
      let mount = VaultPath(stripping: try path(mountText, "a record's mount"))
      guard let prefix = sources[mount] else {
        throw BackupError.notABackup(
          "a record names the mount '\(VaultPath.printable(mountText))', which is not one of its sources"
        )
      }
      let relative = try path(pathText, "a record's path")
      guard relative.hasPrefix(prefix) else {
        throw BackupError.notABackup(
          "a record's path '\(VaultPath.printable(pathText))' is outside its source prefix")
      }
    }
    for entry in metadata { try check(entry.mount, entry.path) }
    for secret in secrets { try check(secret.mount, secret.path) }
  }

  func check(against manifest: Manifest) throws {
    let actual = makeManifest()
    guard actual.versions == manifest.versions else {
      throw BackupError.manifestMismatch(
        "it lists \(manifest.versions) secret versions, the payload holds \(actual.versions)")
    }
    guard actual.paths == manifest.paths else {
      throw BackupError.manifestMismatch(
        "it lists \(manifest.paths) paths, the payload holds \(actual.paths)")
    }
    for (path, digest) in manifest.sha256.sorted(by: { $0.key < $1.key }) {
      guard actual.sha256[path] == digest else {
        throw BackupError.manifestMismatch("the SHA-256 of \(path) differs")
      }
    }
  }
}
