import LockstepCore

/// A secret as Vault stores it: keys in order, each value a `SecretBytes`.
///
/// Order is the order Vault returned (Vault sorts keys) or the caller inserted, so that a
/// rendered `.env` or a backup is stable. A value that was not a JSON string in Vault (a
/// number, a bool, an object) is kept as its JSON text, and its key is in `jsonKeys`, so
/// that writing the map back sends the same JSON value rather than a string: a rotation
/// that keeps every other key must keep their types too.
///
/// Keys are compared by their UTF-8 bytes, as Vault compares them, not by Swift's
/// canonical equivalence: `"é"` and `"e\u{301}"` are two keys in Vault and stay two here.
public struct SecretMap: Sendable, Equatable, Sequence, CustomStringConvertible {
  public private(set) var entries: [(key: String, value: SecretBytes)] = []
  /// Parallel to `entries`: whether that value is JSON text rather than a string.
  private(set) var json: [Bool] = []

  public init() {}

  public init(_ entries: [(key: String, value: SecretBytes)]) {
    for (key, value) in entries { self[key] = value }
  }

  /// Keys whose value is JSON text (not a JSON string) and is written back as raw JSON.
  public var jsonKeys: Set<String> {
    Set(entries.indices.filter { json[$0] }.map { entries[$0].key })
  }

  public var keys: [String] { entries.map(\.key) }
  public var count: Int { entries.count }
  public var isEmpty: Bool { entries.isEmpty }

  mutating func reserveCapacity(_ count: Int) {
    entries.reserveCapacity(count)
    json.reserveCapacity(count)
  }

  private func index(of key: String) -> Int? {
    entries.firstIndex { $0.key.utf8.elementsEqual(key.utf8) }
  }

  /// Setting a value makes it a string value; `setJSON` keeps one as raw JSON.
  public subscript(key: String) -> SecretBytes? {
    get { index(of: key).map { entries[$0].value } }
    set { set(key, newValue, json: false) }
  }

  /// Sets `key` to a JSON value given as its JSON text (a number, bool, object, array).
  public mutating func setJSON(_ key: String, _ text: SecretBytes) {
    set(key, text, json: true)
  }

  private mutating func set(_ key: String, _ value: SecretBytes?, json isJSON: Bool) {
    if let index = index(of: key) {
      if let value {
        entries[index].value = value
        json[index] = isJSON
      } else {
        entries.remove(at: index)
        json.remove(at: index)
      }
    } else if let value {
      entries.append((key, value))
      json.append(isJSON)
    }
  }

  /// Whether `key` holds raw JSON rather than a string.
  public func isJSON(_ key: String) -> Bool { index(of: key).map { json[$0] } ?? false }

  /// `other`'s keys replace or join this map's; every other key stays.
  public func merging(_ other: SecretMap) -> SecretMap {
    var result = self
    for (index, entry) in other.entries.enumerated() {
      result.set(entry.key, entry.value, json: other.json[index])
    }
    return result
  }

  public func makeIterator() -> IndexingIterator<[(key: String, value: SecretBytes)]> {
    entries.makeIterator()
  }

  public static func == (lhs: SecretMap, rhs: SecretMap) -> Bool {
    guard lhs.count == rhs.count else { return false }
    return lhs.entries.indices.allSatisfy { index in
      guard let other = rhs.index(of: lhs.entries[index].key) else { return false }
      return rhs.json[other] == lhs.json[index]
        && rhs.entries[other].value == lhs.entries[index].value
    }
  }

  /// Key names only.
  public var description: String { "SecretMap(keys: \(keys))" }
}

extension SecretMap {
  /// The map as one JSON object, the text Vault would be sent for it: strings escaped,
  /// JSON values as their exact text (so `1e400` or `1.0` are not renormalised). Built in
  /// a wiping buffer; the result is a `SecretBytes`.
  public func jsonObject() -> SecretBytes {
    VaultClient.json(self).render()
  }

  /// Parses a JSON object's text (as `jsonObject()` writes it, or as Vault returns a
  /// secret's `data`) into a map: strings decoded, every other value kept as its text.
  /// Throws `VaultError.invalidSecretData` when `text` is not one JSON object.
  public init(jsonObject text: SecretBytes) throws {
    self.init()
    try text.withUnsafeBytes { bytes in
      guard let root = try? JSONParser.parse(bytes), case .object(let members) = root else {
        throw VaultError.invalidSecretData
      }
      reserveCapacity(members.count)
      for member in members {
        let value = member.value.secret(in: bytes, span: member.span)
        if case .string = member.value {
          self[member.key] = value
        } else {
          setJSON(member.key, value)
        }
      }
    }
  }
}
