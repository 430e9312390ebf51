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
    /// Only paths (below their mount) starting with this.
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

  func targetMount(_ mount: String) -> String {
    guard let toMount = options.toMount else { return mount }
    let clean = toMount.split(separator: "/").joined(separator: "/")
    return clean + "/"
  }

  public func restore(_ payload: BackupPayload) async throws -> Report {
    var report = Report()
    report.dryRun = options.dryRun
    let selected = payload.secrets.filter { options.prefix.map($0.path.hasPrefix) ?? true }
    var mounts: [String: VaultMount] = [:]
    func mount(_ name: String) async throws -> VaultMount {
      if let known = mounts[name] { return known }
      let found = try await vault.mount(for: name)
      mounts[name] = found
      return found
    }

    if payload.header.allVersions {
      let metadata = Dictionary(
        payload.metadata.map { ($0.mount + $0.path, $0) }, uniquingKeysWith: { $1 })
      var grouped: [String: [BackupPayload.Secret]] = [:]
      var order: [String] = []
      for secret in selected {
        if grouped[secret.fullPath] == nil { order.append(secret.fullPath) }
        grouped[secret.fullPath, default: []].append(secret)
      }
      for key in order {
        let versions = grouped[key]!
        let first = versions[0]
        let target = try await mount(targetMount(first.mount))
        let shown = target.path + first.path
        if target.kvVersion != 2 || metadata[key] == nil {
          for secret in versions where secret.state == .live {
            try await restoreLatest(secret, into: target, report: &report)
          }
          continue
        }
        try await replay(
          metadata[key]!, versions: versions, into: target, shown: shown, report: &report)
      }
    } else {
      for secret in selected {
        try await restoreLatest(
          secret, into: try await mount(targetMount(secret.mount)), report: &report)
      }
    }
    return report
  }

  private func restoreLatest(
    _ secret: BackupPayload.Secret, into mount: VaultMount, report: inout Report
  ) async throws {
    let shown = mount.path + secret.path
    guard let data = secret.data else { return }
    let live = try await RawKV.read(vault, mount: mount, path: secret.path, version: nil)
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
    try await RawKV.write(vault, mount: mount, path: secret.path, data: data, cas: cas)
    report.written += 1
  }

  private func replay(
    _ metadata: BackupPayload.Metadata, versions: [BackupPayload.Secret], into mount: VaultMount,
    shown: String, report: inout Report
  ) async throws {
    let existing: VaultMetadata?
    do { existing = try await vault.metadata(shown) } catch VaultError.notFound { existing = nil }
    if let existing, existing.currentVersion > 0 {
      let latestLive = versions.last(where: { $0.state == .live })
      let live = try await RawKV.read(vault, mount: mount, path: metadata.path, version: nil)
      if existing.currentVersion == metadata.currentVersion, live?.data == latestLive?.data {
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
    let placeholder = SecretBytes(utf8: "{}")
    if metadata.currentVersion > 0 {
      for number in 1...metadata.currentVersion {
        let secret = byVersion[number]
        try await RawKV.write(
          vault, mount: mount, path: metadata.path, data: secret?.data ?? placeholder,
          cas: number - 1)
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
