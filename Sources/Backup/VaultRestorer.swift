import Foundation
import LockstepCore
import Vault

/// `restore`: writes a backup back into Vault without clobbering newer live data.
///
/// Latest-only backups: each path is compared with the live secret; an absent path is
/// written with `cas=0`, a changed one with `cas=<live version>` so that a concurrent write
/// fails instead of being lost, and one whose live version is newer than the backup's is a
/// conflict (left alone) unless `force`. Full-history backups replay each path from
/// version 1: metadata first, versions in order, deleted and destroyed versions deleted and
/// destroyed again, so that numbering and states match; a path that already exists is a
/// conflict unless `force`, which removes it first.
public struct VaultRestorer: Sendable {
  public struct Options: Sendable {
    public var dryRun = false
    public var force = false
    /// Writes every path under this mount instead of the one it was backed up from.
    public var toMount: String?
    /// Only paths (below their mount) inside this folder, matched by whole segments:
    /// `svc/s1` selects `svc/s1` and `svc/s1/…`, never `svc/s10`.
    public var prefix: String?

    public init(
      dryRun: Bool = false, force: Bool = false, toMount: String? = nil, prefix: String? = nil
    ) {
      self.dryRun = dryRun
      self.force = force
      self.toMount = toMount
      self.prefix = prefix
    }
  }

  /// Paths only, never values.
  public struct Report: Sendable, Codable, Equatable {
    public var added: [String] = []
    public var changed: [String] = []
    public var unchanged: [String] = []
    /// Newer live data left alone (give --force to overwrite).
    public var conflicts: [String] = []
    /// Versions written.
    public var written = 0
    public var dryRun = false

    enum CodingKeys: String, CodingKey {
      case added, changed, unchanged, conflicts, written
      case dryRun = "dry_run"
    }
  }

  public let vault: VaultClient
  public var options: Options

  public init(vault: VaultClient, options: Options = Options()) {
    self.vault = vault
    self.options = options
  }

  /// Where a secret of `mount` is written: `--to-mount`, or the mount it came from.
  func targetMount(_ mount: String) throws -> VaultPath {
    let path = try VaultPath(options.toMount ?? mount)
    guard !path.isEmpty else { throw VaultError.invalidPath(path: "", reason: "it is empty") }
    return VaultPath(stripping: path)
  }

  /// Every selected secret with the path it will be written to. Paths are validated
  /// (`VaultPath`) before anything is written, and each destination is the target mount
  /// followed by the secret's own validated segments, so no write can land outside the
  /// target mount or the `--prefix` folder.
  func plan(_ payload: BackupPayload) throws -> [(BackupPayload.Secret, VaultPath, VaultPath)] {
    try payload.validate()
    let prefix = try VaultPath(options.prefix ?? "", allowEmpty: true)
    var selected: [(BackupPayload.Secret, VaultPath, VaultPath)] = []
    for secret in payload.secrets {
      let relative = try VaultPath(secret.path)
      guard relative.hasPrefix(prefix) else { continue }
      let target = try targetMount(secret.mount)
      let destination = target.appending(VaultPath(stripping: relative))
      guard destination.hasPrefix(target), destination.segments.count > target.segments.count
      else { throw VaultError.invalidPath(path: secret.path, reason: "it leaves its mount") }
      selected.append((secret, target, destination))
    }
    return selected
  }

  public func restore(_ payload: BackupPayload) async throws -> Report {
    var report = Report()
    report.dryRun = options.dryRun
    let selected = try plan(payload)
    var mounts: [VaultPath: VaultMount] = [:]
    func mount(_ name: VaultPath) async throws -> VaultMount {
      if let known = mounts[name] { return known }
      let found: VaultMount
      do {
        found = try await vault.mount(for: name.description)
      } catch VaultError.noMount {
        throw BackupError.usage(
          "No secrets engine is mounted at \(name)/: restore does not create mounts; enable a KV engine there first (e.g. `bao secrets enable -path=\(name) kv-v2`) or choose another --to-mount."
        )
      }
      // Segment-wise: the engine found must be exactly the target mount.
      guard (try? VaultPath(found.path)).map({ VaultPath(stripping: $0) }) == name else {
        throw VaultError.invalidPath(
          path: name.description, reason: "it is inside the mount \(found.path), not a mount")
      }
      mounts[name] = found
      return found
    }

    if payload.header.allVersions {
      let metadata = Dictionary(
        payload.metadata.map { ($0.mount + $0.path, $0) }, uniquingKeysWith: { $1 })
      var grouped: [String: [(BackupPayload.Secret, VaultPath, VaultPath)]] = [:]
      var order: [String] = []
      for entry in selected {
        if grouped[entry.0.fullPath] == nil { order.append(entry.0.fullPath) }
        grouped[entry.0.fullPath, default: []].append(entry)
      }
      for key in order {
        let versions = grouped[key]!
        let (_, targetName, destination) = versions[0]
        let target = try await mount(targetName)
        if target.kvVersion != 2 || metadata[key] == nil {
          for (secret, _, destination) in versions where secret.state == .live {
            try await restoreLatest(secret, to: destination, into: target, report: &report)
          }
          continue
        }
        try await replay(
          metadata[key]!, versions: versions.map(\.0), into: target,
          shown: destination.description, report: &report)
      }
    } else {
      for (secret, targetName, destination) in selected {
        try await restoreLatest(
          secret, to: destination, into: try await mount(targetName), report: &report)
      }
    }
    // A streamed backup holds its paths in the order Vault answered: report them sorted.
    report.added.sort()
    report.changed.sort()
    report.unchanged.sort()
    report.conflicts.sort()
    return report
  }

  private func restoreLatest(
    _ secret: BackupPayload.Secret, to destination: VaultPath, into mount: VaultMount,
    report: inout Report
  ) async throws {
    let shown = destination.description
    guard let data = try Self.map(secret) else { return }
    let live = try await readLatest(shown)
    var cas: Int?
    if let live {
      if live.data == data {
        report.unchanged.append(shown)
        return
      }
      let newer = mount.kvVersion == 1 || (live.version ?? 0) > (secret.version ?? 0)
      if newer && !options.force {
        report.conflicts.append(shown)
        return
      }
      report.changed.append(shown)
      cas = live.version
    } else {
      report.added.append(shown)
      if mount.kvVersion == 2 {
        // Absent, or its latest version deleted/destroyed: CAS on the current version.
        cas = (try? await vault.metadata(shown))?.currentVersion ?? 0
      }
    }
    guard !options.dryRun else { return }
    try await vault.write(shown, data, cas: cas)
    report.written += 1
  }

  private func readLatest(_ path: String) async throws -> VaultSecret? {
    try await Self.readIfPresent(vault, path, version: nil)
  }

  /// The version (latest when nil), or nil when it has nothing to read: absent, deleted or
  /// destroyed.
  static func readIfPresent(_ vault: VaultClient, _ path: String, version: Int?) async throws
    -> VaultSecret?
  {
    do {
      return try await vault.read(path, version: version)
    } catch VaultError.notFound, VaultError.versionDeleted, VaultError.versionDestroyed {
      return nil
    }
  }

  /// A backed-up version's data as the map to write: the backup keeps it as a JSON object's
  /// text, strings escaped and every other value as Vault's exact JSON text, so parsing it
  /// and writing the map sends Vault the same values. Compared as maps, not as text, so a
  /// backup written by an older lockstep (Vault's own escaping) matches too.
  static func map(_ secret: BackupPayload.Secret) throws -> SecretMap? {
    guard let data = secret.data else { return nil }
    do {
      return try SecretMap(jsonObject: data)
    } catch {
      throw BackupError.notABackup("the data of \(secret.fullPath) is not a JSON object")
    }
  }

  private func replay(
    _ metadata: BackupPayload.Metadata, versions: [BackupPayload.Secret], into mount: VaultMount,
    shown: String, report: inout Report
  ) async throws {
    let existing: VaultMetadata?
    do { existing = try await vault.metadata(shown) } catch VaultError.notFound { existing = nil }
    if let existing, existing.currentVersion > 0 {
      let latestLive = try versions.last(where: { $0.state == .live }).flatMap(Self.map)
      let live = try await readLatest(shown)
      if existing.currentVersion == metadata.currentVersion, live?.data == latestLive {
        report.unchanged.append(shown)
        return
      }
      guard options.force else {
        report.conflicts.append(shown)
        return
      }
      report.changed.append(shown)
      if options.dryRun { return }
      try await vault.deleteAllVersions(shown)
    } else {
      report.added.append(shown)
      if options.dryRun { return }
    }
    // Metadata first, so that max_versions applies as it did and culls what it culled.
    try await vault.writeMetadata(
      shown, maxVersions: metadata.maxVersions, casRequired: metadata.casRequired,
      customMetadata: metadata.customMetadata)
    let byVersion = Dictionary(
      versions.compactMap { s in s.version.map { ($0, s) } }, uniquingKeysWith: { $1 })
    var deleted: [Int] = []
    var destroyed: [Int] = []
    if metadata.currentVersion > 0 {
      for number in 1...metadata.currentVersion {
        // Deleted, destroyed and culled versions are written empty, then deleted or
        // destroyed, so that the numbering matches.
        let secret = byVersion[number]
        try await vault.write(
          shown, try secret.flatMap(Self.map) ?? SecretMap(), cas: number - 1)
        report.written += 1
        switch secret?.state {
        case .deleted?: deleted.append(number)
        case .destroyed?, nil: destroyed.append(number)
        case .live?: break
        }
      }
    }
    // Versions culled before the backup (nil) were never readable: destroyed, not faked.
    let stillThere = Set(((try? await vault.metadata(shown))?.versions ?? []).map(\.version))
    let toDestroy = destroyed.filter { stillThere.contains($0) }
    if !toDestroy.isEmpty { try await vault.destroy(shown, versions: toDestroy) }
    let toDelete = deleted.filter { stillThere.contains($0) }
    if !toDelete.isEmpty { try await vault.delete(shown, versions: toDelete) }
  }
}
