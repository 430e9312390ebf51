import Foundation
import LockstepCore

/// `rotate status`: the lock (who, since when, which steps are done) and whether staged
/// values wait in Vault, with the exact command that finishes the rotation.
public struct RotationStatus: Sendable {
  public var lock: LockRecord?
  /// Why the record at the lock path is not trusted (then `lock` is nil).
  public var invalidLock: String?
  public var stagingVersion: Int?
  public var lockPath: String
  public var stagingPath: String
  /// The policy file as given on this command line.
  public var policyFile: String
  /// Manual follow-ups still owed (`rotate confirm`), with the policy's instructions.
  public var pending: [PendingFollowUps.Item] = []
  public var instructions: [String: String] = [:]

  public static func read(policy: RotationPolicy, store: any SecretStore, policyFile: String)
    async throws -> RotationStatus
  {
    var lock: LockRecord?
    var invalid: String?
    if let secret = try await store.read(policy.vault.lock) {
      do { lock = try LockRecord.parse(values: secret.values) } catch {
        invalid = error.description
      }
    }
    let staging = try await store.read(policy.vault.staging)
    var status = RotationStatus(
      lock: lock, invalidLock: invalid, stagingVersion: staging?.version,
      lockPath: policy.vault.lock, stagingPath: policy.vault.staging, policyFile: policyFile)
    status.pending = try await PendingFollowUps.read(policy: policy, store: store).items
    for manual in policy.manual { status.instructions[manual.key] = manual.instructions }
    return status
  }

  /// The command to type, every argument quoted for a POSIX shell.
  public var resumeCommand: String {
    var words = ["lockstep", "rotate", "resume", "--policy", Self.quoted(policyFile)]
    let key = lock?.signingKeyFile ?? ""
    words += ["--signing-key", key.isEmpty ? "SIGNING-KEY-FILE" : Self.quoted(key)]
    return words.joined(separator: " ")
  }

  public static func quoted(_ word: String) -> String {
    let plain = word.utf8.allSatisfy { byte in
      (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte)
        || (0x61...0x7A).contains(byte) || "/._-+=:@,".utf8.contains(byte)
    }
    if plain && !word.isEmpty { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  /// The pending follow-ups, one line each, with the command that completes them.
  public var pendingLines: [String] {
    guard !pending.isEmpty else { return [] }
    var lines = ["manual follow-ups pending (the leaked values still work until these are done):"]
    for item in pending {
      let how = instructions[item.key].map { $0.isEmpty ? "" : ": \($0)" } ?? ""
      lines.append("  \(item.key) since \(item.since) (rotation \(item.rotationID))\(how)")
    }
    lines.append(
      "complete each with: lockstep rotate confirm --policy \(Self.quoted(policyFile)) --key KEY --signing-key SIGNING-KEY-FILE < new-value"
    )
    return lines
  }

  public var lines: [String] { lockLines + pendingLines }

  var lockLines: [String] {
    if let invalidLock {
      return [
        "the lock \(lockPath) holds a record Lockstep does not trust: \(invalidLock)",
        "no resume is possible from it; if no rotation of yours wrote it, delete it with: bao kv metadata delete \(lockPath)",
      ]
    }
    guard let lock else {
      return ["no rotation in progress (\(lockPath) is free)"]
        + (stagingVersion.map { ["warning: staged values remain at \(stagingPath) v\($0)"] } ?? [])
    }
    let remaining = Rotator.Step.allCases.map(\.rawValue).filter { !lock.steps.contains($0) }
    let records = lock.evidenceChain.split(separator: "\n").count
    var lines = [
      "rotation \(lock.rotationID) in progress: \(lock.holder)",
      "done: \(lock.steps.isEmpty ? "nothing yet" : lock.steps.joined(separator: ", "))",
      "remaining: \(remaining.joined(separator: ", "))",
      "staged values: \(stagingVersion.map { "\(stagingPath) v\($0)" } ?? "none")",
      "evidence: \(records) record(s) kept in the lock; resume continues them in --evidence-dir/\(lock.rotationID).jsonl",
    ]
    if !lock.signer.isEmpty { lines.append("evidence signing key: \(lock.signer)") }
    lines.append("finish it with: \(resumeCommand)")
    lines.append(
      "or give it up with: lockstep rotate abort --policy \(Self.quoted(policyFile)) --reason TEXT")
    return lines
  }

  public var json: String {
    var object: [String: Any] = ["in_progress": lock != nil, "lock": lockPath]
    if let lock {
      object["rotation_id"] = lock.rotationID
      object["holder"] = lock.holder
      object["steps_done"] = lock.steps
      object["evidence_records"] = lock.evidenceChain.split(separator: "\n").count
      object["signer"] = lock.signer
      object["resume_command"] = resumeCommand
    }
    if let invalidLock { object["invalid_lock"] = invalidLock }
    if let stagingVersion { object["staging_version"] = stagingVersion }
    object["pending_follow_ups"] = pending.map {
      ["key": $0.key, "rotation_id": $0.rotationID, "since": $0.since]
    }
    let data =
      (try? JSONSerialization.data(
        withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }
}
