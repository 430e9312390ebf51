import Foundation
import LockstepCore

/// `rotate status`: the lock (who, since when, which steps are done) and whether staged
/// values wait in Vault.
public struct RotationStatus: Sendable {
  public var lock: LockRecord?
  public var stagingVersion: Int?
  public var lockPath: String
  public var stagingPath: String

  public static func read(policy: RotationPolicy, store: any SecretStore) throws -> RotationStatus {
    let lock = try store.read(policy.vault.lock).flatMap { LockRecord(values: $0.values) }
    let staging = try store.read(policy.vault.staging)
    return RotationStatus(
      lock: lock, stagingVersion: staging?.version, lockPath: policy.vault.lock,
      stagingPath: policy.vault.staging)
  }

  public var lines: [String] {
    guard let lock else {
      return ["no rotation in progress (\(lockPath) is free)"]
        + (stagingVersion.map { ["warning: staged values remain at \(stagingPath) v\($0)"] } ?? [])
    }
    let remaining = Rotator.Step.allCases.map(\.rawValue).filter { !lock.steps.contains($0) }
    return [
      "rotation \(lock.rotationID) in progress: \(lock.holder)",
      "done: \(lock.steps.isEmpty ? "nothing yet" : lock.steps.joined(separator: ", "))",
      "remaining: \(remaining.joined(separator: ", "))",
      "staged values: \(stagingVersion.map { "\(stagingPath) v\($0)" } ?? "none")",
      "evidence: \(lock.evidence)",
      "finish it with: lockstep rotate resume --policy …",
    ]
  }

  public var json: String {
    var object: [String: Any] = ["in_progress": lock != nil, "lock": lockPath]
    if let lock {
      object["rotation_id"] = lock.rotationID
      object["holder"] = lock.holder
      object["steps_done"] = lock.steps
      object["evidence"] = lock.evidence
    }
    if let stagingVersion { object["staging_version"] = stagingVersion }
    let data =
      (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }
}
