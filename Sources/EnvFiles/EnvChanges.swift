import LockstepCore

/// Which names a new `.env` adds, removes or changes against the file it replaces; names
/// only, values are compared in constant time and never reported.
public struct EnvChanges: Sendable, Equatable {
  public var added: [String] = []
  public var removed: [String] = []
  public var changed: [String] = []

  public init(added: [String] = [], removed: [String] = [], changed: [String] = []) {
    self.added = added
    self.removed = removed
    self.changed = changed
  }

  public init(old: DotenvDocument?, new: DotenvDocument) {
    let before = Dictionary(
      (old?.entries ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    let after = Dictionary(
      new.entries.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    added = after.keys.filter { before[$0] == nil }.sorted()
    removed = before.keys.filter { after[$0] == nil }.sorted()
    changed = after.compactMap { name, value in
      guard let previous = before[name], previous != value else { return nil }
      return name
    }.sorted()
  }

  public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
}
