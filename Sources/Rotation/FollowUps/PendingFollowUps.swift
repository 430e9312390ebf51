import Foundation
import LockstepCore

/// The manual follow-ups still owed after a rotation: the keys of `manual:` that a person
/// has yet to rotate and `rotate confirm`. Kept in Vault beside the lock
/// (`MOUNT/lockstep/pending/PATH`), one entry per key: `rotation=<uuid> since=<UTC time>`,
/// so `rotate status` on any machine shows them. Read back as untrusted input.
public struct PendingFollowUps: Sendable, Equatable {
  public struct Item: Sendable, Equatable {
    public var key: String
    /// The rotation that left it pending.
    public var rotationID: String
    /// When (UTC, ISO 8601).
    public var since: String
    /// Set by `rotate confirm` before it writes the live secret: the version that write
    /// creates, so a confirm interrupted after the write continues (deploy) instead of
    /// calling the value it wrote the leaked one.
    public var confirmingVersion: Int?

    var text: String {
      "rotation=\(rotationID) since=\(since)"
        + (confirmingVersion.map { " confirming=\($0)" } ?? "")
    }
  }

  public var items: [Item]
  /// The Vault version the items were read at (nil: no record), for check-and-set.
  public var version: Int?

  public var keys: [String] { items.map(\.key) }

  /// Where the record lives for `policy`.
  public static func path(for policy: RotationPolicy) -> String {
    guard let (mount, rest) = RotationPolicy.splitMount(policy.vault.secret) else {
      return policy.vault.secret + "-lockstep-pending"
    }
    return "\(mount)/lockstep/pending/\(rest)"
  }

  public static func read(policy: RotationPolicy, store: any SecretStore) async throws
    -> PendingFollowUps
  {
    let path = path(for: policy)
    guard let secret = try await store.read(path) else {
      return PendingFollowUps(items: [], version: nil)
    }
    var items: [Item] = []
    for (key, value) in secret.values.sorted(by: { $0.key < $1.key }) {
      guard let text = value.unsafeUTF8String(), let item = Self.parse(key: key, text) else {
        throw UserError(
          "the pending follow-ups at \(path) hold an entry Lockstep did not write (\(UntrustedText.escaped(String(key.prefix(64))))); inspect it",
          exit: .dataError)
      }
      items.append(item)
    }
    return PendingFollowUps(items: items, version: secret.version)
  }

  static func parse(key: String, _ text: String) -> Item? {
    let valid =
      !key.isEmpty && key.utf8.count <= 128
      && key.utf8.allSatisfy { byte in
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
          || (0x30...0x39).contains(byte) || byte == 0x5F
      }
    let fields = text.split(separator: " ")
    var confirming: Int?
    if fields.count == 3 {
      guard fields[2].hasPrefix("confirming="),
        let version = Int(fields[2].dropFirst("confirming=".count)), version > 0
      else { return nil }
      confirming = version
    }
    guard valid, (2...3).contains(fields.count), fields[0].hasPrefix("rotation="),
      fields[1].hasPrefix("since="),
      let id = UUID(uuidString: String(fields[0].dropFirst("rotation=".count))),
      ISO8601DateFormatter().date(from: String(fields[1].dropFirst("since=".count))) != nil
    else { return nil }
    return Item(
      key: key, rotationID: id.uuidString.lowercased(),
      since: String(fields[1].dropFirst("since=".count)), confirmingVersion: confirming)
  }

  /// Writes `items` as the whole record with check-and-set (destroys it when empty).
  public static func write(
    _ items: [Item], policy: RotationPolicy, store: any SecretStore, cas: Int?
  ) async throws {
    let path = path(for: policy)
    if items.isEmpty {
      if cas != nil { try await store.destroy(path) }
      return
    }
    var values: [String: SecretBytes] = [:]
    for item in items {
      values[item.key] = SecretBytes(utf8: item.text)
    }
    _ = try await store.write(path, values, cas: cas ?? 0)
  }

  /// Writes `items` and returns the new version (the record must not be empty).
  static func update(
    _ items: [Item], policy: RotationPolicy, store: any SecretStore, cas: Int?
  ) async throws -> Int {
    var values: [String: SecretBytes] = [:]
    for item in items { values[item.key] = SecretBytes(utf8: item.text) }
    return try await store.write(path(for: policy), values, cas: cas ?? 0)
  }

  /// After a rotation: every manual key of the policy is pending again (the leak exposed
  /// it anew), keys still pending from an earlier rotation stay. Returns the items.
  @discardableResult
  public static func recordRotation(
    _ rotationID: String, policy: RotationPolicy, store: any SecretStore, now: Date = Date()
  ) async throws -> [Item] {
    guard !policy.manual.isEmpty else { return [] }
    let current = try await read(policy: policy, store: store)
    let since = ISO8601DateFormatter().string(from: now)
    var items = current.items.filter { item in !policy.manual.contains { $0.key == item.key } }
    for manual in policy.manual {
      items.append(Item(key: manual.key, rotationID: rotationID, since: since))
    }
    items.sort { $0.key < $1.key }
    try await write(items, policy: policy, store: store, cas: current.version)
    return items
  }
}
