import EnvFiles
import Foundation
import LockstepCore

/// Reads the key names of one source. Every failure becomes `DriftError.unreadable` naming
/// the source, so `drift` can exit 1 with one sentence whatever went wrong underneath.
public struct SourceLoader: Sendable {
  public let connections: DriftConnections
  /// The `vault:` paths among the run's sources: an ExternalSecret's `dataFrom` resolves
  /// only against one of these (docs/drift.md).
  public var vaultPaths: [String]

  public init(connections: DriftConnections = DriftConnections(), vaultPaths: [String] = []) {
    self.connections = connections
    self.vaultPaths = vaultPaths
  }

  public func load(_ spec: SourceSpec) async throws(DriftError) -> KeyInventory {
    do {
      return try await loadUnchecked(spec)
    } catch let error as DriftError {
      throw error
    } catch let error as any LockstepError {
      throw .unreadable(source: spec.description, reason: error.description)
    } catch {
      throw .unreadable(source: spec.description, reason: "\(type(of: error))")
    }
  }

  func loadUnchecked(_ spec: SourceSpec) async throws -> KeyInventory {
    var inventory = KeyInventory(source: spec.description)
    switch spec {
    case .dotenv(let path):
      let document = try DotenvFile.read(path)
      for entry in document.entries {
        inventory.add(entry.name, at: .init(file: path, line: entry.line))
        if entry.value.isEmpty { inventory.markEmpty(entry.name) }
      }
      for issue in document.issues {
        inventory.note(issue.description, at: .init(file: path, line: issue.line))
      }
    case .keys(let path):
      try loadKeyFile(path, into: &inventory)
    case .vault(let path):
      guard let vault = connections.vault else {
        throw DriftError.unreadable(
          source: spec.description, reason: "no Vault client is configured")
      }
      for name in try await vault.keyNames(path) { inventory.add(name) }
    case .k8s(let namespace, let deployment, let container):
      guard let kubernetes = connections.kubernetes else {
        throw DriftError.unreadable(source: spec.description, reason: "kubectl is not configured")
      }
      for name in try await kubernetes.environmentNames(
        namespace: namespace, deployment: deployment, container: container)
      {
        inventory.add(name)
      }
    case .environment(let pattern):
      let regex: Regex<AnyRegexOutput>
      do { regex = try Regex(pattern) } catch { throw DriftError.badPattern(pattern) }
      for name in connections.environmentNames() where (try? regex.firstMatch(in: name)) != nil {
        inventory.add(name)
      }
    case .externalSecret(let glob):
      try await loadExternalSecrets(glob, spec: spec, into: &inventory)
    case .externalSecretCluster(let namespace, let name):
      try await loadClusterExternalSecrets(namespace, name, spec: spec, into: &inventory)
    case .code(let glob):
      inventory.isLowerBound = true
      let files = Glob.files(matching: glob)
      if files.isEmpty {
        throw DriftError.unreadable(source: spec.description, reason: "no file matches the glob")
      }
      for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        for reference in CodeScanner.references(in: [UInt8](data)) {
          inventory.add(reference.name, at: .init(file: file, line: reference.line))
        }
      }
    }
    return inventory
  }

  /// One key a line; `#` starts a comment; anything from `=` on is ignored (and never
  /// printed), in case the inventory was made with `env` and no `cut`.
  func loadKeyFile(_ path: String, into inventory: inout KeyInventory) throws {
    let contents = try DotenvFile.contents(path)
    var bytes = contents.unsafeArray()
    defer { SecretBytes.wipe(&bytes) }
    var line = 0
    for row in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
      line += 1
      var slice = row[...]
      if let hash = slice.firstIndex(of: 0x23) { slice = slice[..<hash] }
      if let equals = slice.firstIndex(of: 0x3D) { slice = slice[..<equals] }
      while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
      while let last = slice.last, last == 0x20 || last == 0x09 || last == 0x0D {
        slice = slice.dropLast()
      }
      if slice.isEmpty { continue }
      let location = KeyInventory.Location(file: path, line: line)
      if slice.starts(with: Array("export ".utf8)) { slice = slice.dropFirst(7) }
      guard DotenvParser.isValidName(slice) else {
        inventory.note("line \(line): not a valid variable name", at: location)
        continue
      }
      let name = String(decoding: slice, as: UTF8.self)
      if inventory.keys[name] != nil {
        inventory.note("line \(line): key \(name) is listed again", at: location)
      }
      inventory.add(name, at: location)
    }
  }
}
