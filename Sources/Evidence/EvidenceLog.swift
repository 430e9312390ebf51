import Crypto
import Foundation
import LockstepCore

/// An append-only, hash-chained JSON Lines log of what a workflow did, sealed with an
/// Ed25519 signature. Format: docs/evidence.md.
///
/// Each line is one JSON object with sorted keys; `prev` is the SHA-256 of the previous
/// line's exact bytes, so editing, removing, inserting or reordering any record breaks the
/// chain. The last line, `"step": "seal"`, signs the hash of the line before it, and with it
/// the whole chain. Values never enter the log: `fingerprint` gives an HMAC-SHA-256 of a
/// value under a key derived from the signing key, so two runs can be compared ("the value
/// changed") without the log revealing or confirming a guessed value to someone without the
/// key.
public final class EvidenceLog {
  public let path: String
  private let signingKey: Ed25519KeyPair
  private let fingerprintKey: SecretBytes
  private let actor: [String: String]
  private let policyDigest: String?
  private var sequence: Int
  private var previousHash: String
  public private(set) var isSealed: Bool

  public static let genesis = String(repeating: "0", count: 64)

  /// Opens `path`, continuing its chain when the file exists and is not sealed (a resumed
  /// rotation), or starting a new one. The directory is created 0700 and the file 0600.
  public init(
    path: String, signingKey: Ed25519KeyPair, actor: [String: String]? = nil,
    policyDigest: String? = nil
  ) throws {
    self.path = path
    self.policyDigest = policyDigest.flatMap { $0.isEmpty ? nil : $0 }
    self.signingKey = signingKey
    fingerprintKey = HKDF.deriveKey(
      from: signingKey.seed, salt: [], info: Array("lockstep evidence fingerprint v1".utf8),
      outputByteCount: 32)
    self.actor = actor ?? Self.currentActor()
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
      )
    }
    sequence = 0
    previousHash = Self.genesis
    isSealed = false
    if let data = FileManager.default.contents(atPath: path), !data.isEmpty {
      let lines = EvidenceVerifier.lines(of: data)
      guard let last = lines.last,
        let record = try? JSONSerialization.jsonObject(with: Data(last)) as? [String: Any],
        let seq = record["seq"] as? Int
      else { throw UserError("the evidence file \(path) is not valid evidence", exit: .dataError) }
      sequence = seq
      previousHash = Hex.encode(SHA256.hash(last))
      isSealed = (record["step"] as? String) == "seal"
    } else {
      guard
        FileManager.default.createFile(
          atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
      else { throw UserError("could not create the evidence file \(path)") }
    }
  }

  /// The HMAC-SHA-256 fingerprint of a value, as written in evidence details.
  /// `fingerprint` as a sendable function, for work that runs away from the log.
  public var fingerprinter: @Sendable (SecretBytes) -> String {
    let key = fingerprintKey
    return { "hmac-sha256:" + Hex.encode(HMACSHA256.authenticate($0, key: key)) }
  }

  public func fingerprint(_ value: SecretBytes) -> String {
    "hmac-sha256:" + Hex.encode(HMACSHA256.authenticate(value, key: fingerprintKey))
  }

  /// Appends one record and flushes it to disk before returning, so a crash right after an
  /// action still leaves its record.
  @discardableResult
  public func record(
    step: String, target: String, outcome: String, details: [String: Any] = [:]
  ) throws -> Int {
    guard !isSealed else { throw UserError("the evidence log \(path) is already sealed") }
    var fields: [String: Any] = [
      "step": step, "target": target, "outcome": outcome, "details": details, "actor": actor,
    ]
    if let policyDigest { fields["policy_sha256"] = policyDigest }
    return try append(fields)
  }

  /// The records written so far, as the file holds them.
  public func contents() -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
  }

  /// Appends the signed seal; nothing may be recorded after it. The signature covers the
  /// seal's own fields (time, actor, key) as well as the chain before it.
  public func seal() throws {
    guard !isSealed else { return }
    let next = sequence + 1
    let time = Self.timestamp()
    let publicKey = Hex.encode(signingKey.publicKey)
    let signature = signingKey.signature(
      for: Self.sealMessage(
        previous: previousHash, sequence: next, time: time, publicKey: publicKey, actor: actor))
    _ = try append(
      [
        "step": "seal", "public_key": publicKey, "signature": Hex.encode(signature),
        "actor": actor, "seal_format": 2,
      ], time: time)
    isSealed = true
  }

  /// Format 1 (before 2026-12) signed only the chain; its seal's time and actor are not
  /// covered. Kept to verify old files.
  static func sealMessage(previous: String, sequence: Int) -> [UInt8] {
    Array("lockstep-evidence-v1\n\(previous)\n\(sequence)".utf8)
  }

  /// Format 2: every field of the seal record except the signature itself.
  static func sealMessage(
    previous: String, sequence: Int, time: String, publicKey: String, actor: [String: String]
  ) -> [UInt8] {
    Array(
      ("lockstep-evidence-v2\n\(previous)\n\(sequence)\n\(time)\n\(publicKey)\n"
        + "\(actor["user"] ?? "")\n\(actor["host"] ?? "")").utf8)
  }

  private func append(_ fields: [String: Any], time: String = EvidenceLog.timestamp()) throws
    -> Int
  {
    var record = fields
    sequence += 1
    record["seq"] = sequence
    record["time"] = time
    record["prev"] = previousHash
    var line = try JSONSerialization.data(
      withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
    previousHash = Hex.encode(SHA256.hash(Array(line)))
    line.append(0x0A)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: line)
    try handle.synchronize()
    return sequence
  }

  static func timestamp(_ date: Date = Date()) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }

  /// Who acted: the login user and the host, as the runbook's notices name them.
  public static func currentActor() -> [String: String] {
    let environment = ProcessInfo.processInfo.environment
    return [
      "user": environment["SUDO_USER"] ?? environment["USER"] ?? NSUserName(),
      "host": ProcessInfo.processInfo.hostName,
    ]
  }
}
