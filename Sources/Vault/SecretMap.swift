import LockstepCore

/// A secret as Vault stores it: keys in order, each value a `SecretBytes`.
///
/// Order is the order Vault returned (Vault sorts keys) or the caller inserted, so that a
/// rendered `.env` or a backup is stable. A value that was not a JSON string in Vault (a
/// number, a bool, an object) is kept as its JSON text, and its key is in `jsonKeys`, so
/// that writing the map back sends the same JSON value rather than a string: a rotation
/// that keeps every other key must keep their types too.
public struct SecretMap: Sendable, Equatable, Sequence, CustomStringConvertible {
  public private(set) var entries: [(key: String, value: SecretBytes)] = []
  /// Keys whose value is JSON text (not a JSON string) and is written back as raw JSON.
  public private(set) var jsonKeys: Set<String> = []

  public init() {}

  public init(_ entries: [(key: String, value: SecretBytes)]) {
    for (key, value) in entries { self[key] = value }
  }

  public var keys: [String] { entries.map(\.key) }
  public var count: Int { entries.count }
  public var isEmpty: Bool { entries.isEmpty }

  /// Setting a value makes it a string value; `setJSON` keeps one as raw JSON.
  public subscript(key: String) -> SecretBytes? {
    get { entries.first(where: { $0.key == key })?.value }
    set {
      jsonKeys.remove(key)
      if let index = entries.firstIndex(where: { $0.key == key }) {
        if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
      } else if let newValue {
        entries.append((key, newValue))
      }
    }
  }

  /// Sets `key` to a JSON value given as its JSON text (a number, bool, object, array).
  public mutating func setJSON(_ key: String, _ text: SecretBytes) {
    self[key] = text
    jsonKeys.insert(key)
  }

  /// Whether `key` holds raw JSON rather than a string.
  public func isJSON(_ key: String) -> Bool { jsonKeys.contains(key) }

  /// `other`'s keys replace or join this map's; every other key stays.
  public func merging(_ other: SecretMap) -> SecretMap {
    var result = self
    for (key, value) in other.entries {
      if other.isJSON(key) { result.setJSON(key, value) } else { result[key] = value }
    }
    return result
  }

  public func makeIterator() -> IndexingIterator<[(key: String, value: SecretBytes)]> {
    entries.makeIterator()
  }

  public static func == (lhs: SecretMap, rhs: SecretMap) -> Bool {
    guard lhs.count == rhs.count, lhs.jsonKeys == rhs.jsonKeys else { return false }
    return lhs.entries.allSatisfy { rhs[$0.key] == $0.value }
  }

  /// Key names only.
  public var description: String { "SecretMap(keys: \(keys))" }
}
