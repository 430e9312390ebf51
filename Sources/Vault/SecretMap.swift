import LockstepCore

/// A secret as Vault stores it: keys in order, each value a `SecretBytes`.
///
/// Order is the order Vault returned (Vault sorts keys) or the caller inserted, so that a
/// rendered `.env` or a backup is stable. A value that was not a JSON string in Vault (a number, a bool,
/// an object) is kept as its JSON text.
public struct SecretMap: Sendable, Equatable, Sequence, CustomStringConvertible {
  public private(set) var entries: [(key: String, value: SecretBytes)] = []

  public init() {}

  public init(_ entries: [(key: String, value: SecretBytes)]) {
    for (key, value) in entries { self[key] = value }
  }

  public var keys: [String] { entries.map(\.key) }
  public var count: Int { entries.count }
  public var isEmpty: Bool { entries.isEmpty }

  public subscript(key: String) -> SecretBytes? {
    get { entries.first(where: { $0.key == key })?.value }
    set {
      if let index = entries.firstIndex(where: { $0.key == key }) {
        if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
      } else if let newValue {
        entries.append((key, newValue))
      }
    }
  }

  /// `other`'s keys replace or join this map's; every other key stays.
  public func merging(_ other: SecretMap) -> SecretMap {
    var result = self
    for (key, value) in other.entries { result[key] = value }
    return result
  }

  public func makeIterator() -> IndexingIterator<[(key: String, value: SecretBytes)]> {
    entries.makeIterator()
  }

  public static func == (lhs: SecretMap, rhs: SecretMap) -> Bool {
    guard lhs.count == rhs.count else { return false }
    return lhs.entries.allSatisfy { rhs[$0.key] == $0.value }
  }

  /// Key names only.
  public var description: String { "SecretMap(keys: \(keys))" }
}
