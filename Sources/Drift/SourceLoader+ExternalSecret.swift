import Foundation
import LockstepCore

extension SourceLoader {
  /// `externalsecret:GLOB`: every manifest matching the glob, each document of each.
  func loadExternalSecrets(_ glob: String, spec: SourceSpec, into inventory: inout KeyInventory)
    async throws
  {
    let files = Glob.files(matching: glob)
    if files.isEmpty {
      throw DriftError.unreadable(source: spec.description, reason: "no file matches the glob")
    }
    var manifest = ExternalSecretManifest()
    for file in files {
      let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
      guard size <= ExternalSecretManifest.maxBytes else {
        throw DriftError.unreadable(
          source: spec.description,
          reason: "\(file) is larger than \(ExternalSecretManifest.maxBytes >> 20) MiB")
      }
      guard let data = FileManager.default.contents(atPath: file) else {
        throw DriftError.unreadable(source: spec.description, reason: "\(file) cannot be read")
      }
      do {
        try manifest.read([UInt8](data), file: file)
      } catch {
        throw DriftError.unreadable(source: spec.description, reason: error.message)
      }
    }
    try await collect(manifest, spec: spec, locate: true, into: &inventory)
  }

  /// `externalsecret:k8s:NAMESPACE[/NAME]`: the objects kubectl returns, read as one document.
  func loadClusterExternalSecrets(
    _ namespace: String, _ name: String?, spec: SourceSpec, into inventory: inout KeyInventory
  ) async throws {
    guard let objects = connections.externalSecrets else {
      throw DriftError.unreadable(source: spec.description, reason: "kubectl is not configured")
    }
    let answer = try await objects.externalSecretObjects(namespace: namespace, name: name)
    var manifest = ExternalSecretManifest()
    do {
      try manifest.read(answer, file: "kubectl's answer")
    } catch {
      throw DriftError.unreadable(source: spec.description, reason: error.message)
    }
    try await collect(manifest, spec: spec, locate: false, into: &inventory)
  }

  /// Adds the manifests' keys, resolving each `dataFrom` against the one `vault:` source
  /// whose path it names; with none (or several), the check stops rather than guess.
  func collect(
    _ manifest: ExternalSecretManifest, spec: SourceSpec, locate: Bool,
    into inventory: inout KeyInventory
  ) async throws {
    guard manifest.objects > 0 else {
      throw DriftError.unreadable(source: spec.description, reason: "it holds no ExternalSecret")
    }
    for (name, location) in manifest.keys { inventory.add(name, at: locate ? location : nil) }
    for note in manifest.notes { inventory.note(note.message, at: locate ? note.location : nil) }
    for reference in manifest.references {
      let matches = vaultPaths.filter { Self.path($0, resolves: reference.key) }
      guard matches.count == 1, let vault = connections.vault else {
        let why =
          matches.isEmpty
          ? "add the vault: source of that path to the sources to resolve it"
          : "several vault: sources match it"
        throw DriftError.unreadable(
          source: spec.description,
          reason:
            "\(reference.place): spec.dataFrom takes every key of \(reference.key), which cannot be resolved: \(why)"
        )
      }
      for name in try await vault.keyNames(matches[0]) {
        inventory.add(name, at: locate ? reference.location : nil)
      }
    }
  }

  /// A store key names a Vault path when it is the whole path or the path below its mount
  /// (ESO's Vault provider takes the mount from the SecretStore).
  static func path(_ vaultPath: String, resolves key: String) -> Bool {
    let key = key.hasPrefix("/") ? String(key.dropFirst()) : key
    guard !key.isEmpty else { return false }
    return vaultPath == key || vaultPath.hasSuffix("/" + key)
  }
}
