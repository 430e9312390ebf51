import Foundation
import LockstepCore
import Vault

/// Reads everything a backup holds from Vault through the ordinary client: latest values
/// with its walk (lists and reads `parallelism` at a time over kept-alive connections),
/// full history with its metadata and versioned reads. Each secret's data is kept as the
/// JSON object `SecretMap.jsonObject()` writes: strings escaped, every other JSON value as
/// the exact text Vault returned, so it restores to the same values.
public struct VaultExporter: Sendable {
  public struct Scope: Sendable {
    /// KV mounts, e.g. `secret` or `secret/`.
    public var mounts: [String]
    /// Below each mount, e.g. `aura/`; empty for everything.
    public var prefix: String
    /// Every version with metadata, including deleted and destroyed ones.
    public var allVersions: Bool

    public init(mounts: [String], prefix: String = "", allVersions: Bool = false) {
      self.mounts = mounts
      self.prefix = prefix
      self.allVersions = allVersions
    }
  }

  public let vault: VaultClient
  public let parallelism: Int

  public init(vault: VaultClient, parallelism: Int? = nil) {
    self.vault = vault
    self.parallelism = parallelism ?? max(1, vault.configuration.parallelism)
  }

  public func export(_ scope: Scope, created: Date = Date()) async throws -> BackupPayload {
    var sources: [BackupPayload.Header.Source] = []
    var metadata: [BackupPayload.Metadata] = []
    var secrets: [BackupPayload.Secret] = []
    let prefix = scope.prefix.split(separator: "/").joined(separator: "/")
    for mountName in scope.mounts {
      let mount = try await vault.mount(for: mountName)
      let folderPrefix = prefix.isEmpty ? "" : prefix + "/"
      sources.append(.init(mount: mount.path, kvVersion: mount.kvVersion, prefix: folderPrefix))
      guard scope.allVersions && mount.kvVersion == 2 else {
        // A path whose latest version is deleted or destroyed has nothing to read; without
        // --all-versions it is left out, as `vault kv get` would fail on it.
        for secret in try await vault.readAll(under: mount.path + folderPrefix) {
          secrets.append(
            BackupPayload.Secret(
              mount: mount.path, path: String(secret.path.dropFirst(mount.path.count)),
              kvVersion: mount.kvVersion, version: secret.version,
              createdTime: secret.createdTime, customMetadata: secret.customMetadata,
              state: .live, data: secret.data.jsonObject()))
        }
        continue
      }
      let paths = try await vault.walk(mount.path + folderPrefix)
      let relative = paths.map { String($0.dropFirst(mount.path.count)) }
      let results = try await parallelMap(relative) { path in
        try await self.exportHistory(mount: mount, path: path)
      }
      for (entryMetadata, entrySecrets) in results {
        metadata.append(entryMetadata)
        secrets += entrySecrets
      }
    }
    let header = BackupPayload.Header(
      created: BackupName.iso8601(created), vaultAddress: vault.configuration.address,
      sources: sources, allVersions: scope.allVersions)
    return BackupPayload(header: header, metadata: metadata, secrets: secrets)
  }

  /// Streams the backup of `scope` into the writer `open` makes from the header (once
  /// every mount is resolved): records are encoded and sealed as their reads finish, so
  /// memory does not grow with the number of secrets. Latest values are appended on the
  /// walk's HTTP threads; full histories (`allVersions`) by the tasks reading them, a
  /// path's metadata and versions together. Returns the writer (not finished).
  func stream(
    _ scope: Scope, created: Date,
    open: (BackupPayload.Header) throws -> BackupPayloadWriter
  ) async throws -> BackupPayloadWriter {
    var sources: [BackupPayload.Header.Source] = []
    var mounts: [VaultMount] = []
    let prefix = scope.prefix.split(separator: "/").joined(separator: "/")
    let folderPrefix = prefix.isEmpty ? "" : prefix + "/"
    for mountName in scope.mounts {
      let mount = try await vault.mount(for: mountName)
      mounts.append(mount)
      sources.append(.init(mount: mount.path, kvVersion: mount.kvVersion, prefix: folderPrefix))
    }
    let writer = try open(
      BackupPayload.Header(
        created: BackupName.iso8601(created), vaultAddress: vault.configuration.address,
        sources: sources, allVersions: scope.allVersions))
    for mount in mounts {
      guard scope.allVersions && mount.kvVersion == 2 else {
        _ = try await vault.readEach(under: mount.path + folderPrefix) { secret in
          try writer.append(
            metadata: nil,
            secrets: [
              BackupPayload.Secret(
                mount: mount.path, path: String(secret.path.dropFirst(mount.path.count)),
                kvVersion: mount.kvVersion, version: secret.version,
                createdTime: secret.createdTime, customMetadata: secret.customMetadata,
                state: .live, data: secret.data.jsonObject())
            ])
        }
        continue
      }
      let paths = try await vault.walk(mount.path + folderPrefix)
      let relative = paths.map { String($0.dropFirst(mount.path.count)) }
      _ = try await parallelMap(relative) { path -> Bool in
        let (metadata, secrets) = try await self.exportHistory(mount: mount, path: path)
        try writer.append(metadata: metadata, secrets: secrets)
        return true
      }
    }
    return writer
  }

  private func exportHistory(mount: VaultMount, path: String) async throws
    -> (BackupPayload.Metadata, [BackupPayload.Secret])
  {
    let meta = try await vault.metadata(mount.path + path)
    let record = BackupPayload.Metadata(
      mount: mount.path, path: path, currentVersion: meta.currentVersion,
      oldestVersion: meta.oldestVersion, maxVersions: meta.maxVersions,
      casRequired: meta.casRequired, deleteVersionAfter: nil,
      customMetadata: meta.customMetadata,
      versions: meta.versions.map {
        .init(
          version: $0.version, createdTime: $0.createdTime, deletionTime: $0.deletionTime,
          destroyed: $0.destroyed)
      })
    var secrets: [BackupPayload.Secret] = []
    for version in meta.versions {
      let state: BackupPayload.State =
        version.destroyed ? .destroyed : version.isDeleted ? .deleted : .live
      if state == .live,
        let secret = try await readVersion(mount: mount, path: path, version.version)
      {
        secrets.append(secret)
      } else {
        // Deleted (or deleted between metadata and read) and destroyed versions keep their
        // place and state so that a restore recreates the same numbering.
        secrets.append(
          BackupPayload.Secret(
            mount: mount.path, path: path, kvVersion: 2, version: version.version,
            createdTime: version.createdTime, customMetadata: [:],
            state: state == .live ? .deleted : state, data: nil))
      }
    }
    return (record, secrets)
  }

  /// One live version, nil when it was deleted, destroyed or removed since the metadata
  /// was read.
  private func readVersion(mount: VaultMount, path: String, _ version: Int) async throws
    -> BackupPayload.Secret?
  {
    let secret: VaultSecret
    do {
      secret = try await vault.read(mount.path + path, version: version)
    } catch VaultError.notFound, VaultError.versionDeleted, VaultError.versionDestroyed {
      return nil
    }
    return BackupPayload.Secret(
      mount: mount.path, path: path, kvVersion: mount.kvVersion, version: secret.version,
      createdTime: secret.createdTime, customMetadata: secret.customMetadata, state: .live,
      data: secret.data.jsonObject())
  }

  /// Maps with at most `parallelism` calls in flight, results in input order.
  private func parallelMap<T: Sendable>(
    _ items: [String], _ body: @escaping @Sendable (String) async throws -> T
  ) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
      var results = [T?](repeating: nil, count: items.count)
      var next = 0
      while next < min(parallelism, items.count) {
        let index = next
        group.addTask { (index, try await body(items[index])) }
        next += 1
      }
      while let (index, value) = try await group.next() {
        results[index] = value
        if next < items.count {
          let index = next
          group.addTask { (index, try await body(items[index])) }
          next += 1
        }
      }
      return results.map { $0! }
    }
  }
}
