import Foundation
import LockstepCore

/// The rotation lock as stored in Vault (KV v2, written with `cas=0`). It doubles as the
/// rotation's journal of record: every completed step is added to `steps` with a CAS write,
/// so `rotate resume` on any machine knows where to continue. It holds no secret values.
public struct LockRecord: Sendable, Equatable {
  public var rotationID: String
  public var owner: String
  public var host: String
  public var pid: Int32
  public var startedAt: Date
  public var expiresAt: Date
  public var evidence: String
  public var steps: [String]

  static let fields = [
    "rotation_id", "owner", "host", "pid", "started_at", "expires_at", "evidence", "steps",
  ]

  var values: [String: SecretBytes] {
    [
      "rotation_id": SecretBytes(utf8: rotationID), "owner": SecretBytes(utf8: owner),
      "host": SecretBytes(utf8: host), "pid": SecretBytes(utf8: String(pid)),
      "started_at": SecretBytes(utf8: Self.format(startedAt)),
      "expires_at": SecretBytes(utf8: Self.format(expiresAt)),
      "evidence": SecretBytes(utf8: evidence),
      "steps": SecretBytes(utf8: steps.joined(separator: ",")),
    ]
  }

  init(
    rotationID: String, owner: String, host: String, pid: Int32, startedAt: Date,
    expiresAt: Date, evidence: String, steps: [String]
  ) {
    self.rotationID = rotationID
    self.owner = owner
    self.host = host
    self.pid = pid
    self.startedAt = startedAt
    self.expiresAt = expiresAt
    self.evidence = evidence
    self.steps = steps
  }

  init?(values: [String: SecretBytes]) {
    func text(_ key: String) -> String? { values[key]?.unsafeUTF8String() }
    guard let id = text("rotation_id"), let owner = text("owner"), let host = text("host"),
      let started = text("started_at").flatMap(Self.parse),
      let expires = text("expires_at").flatMap(Self.parse)
    else { return nil }
    self.init(
      rotationID: id, owner: owner, host: host, pid: Int32(text("pid") ?? "") ?? 0,
      startedAt: started, expiresAt: expires, evidence: text("evidence") ?? "",
      steps: (text("steps") ?? "").split(separator: ",").map(String.init))
  }

  /// "alice on host db-admin-1 (pid 4242), started 2026-11-26T23:00:00Z, expires …"
  public var holder: String {
    "\(owner) on host \(host) (pid \(pid)), started \(Self.format(startedAt)), expires \(Self.format(expiresAt))"
  }

  static func format(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }

  static func parse(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
}
