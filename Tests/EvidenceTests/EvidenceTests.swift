import Crypto
import Evidence
import Foundation
import LockstepCore
import TestSupport
import Testing

@Suite struct EvidenceTests {
  let directory: String
  let key: Ed25519KeyPair

  init() throws {
    directory = try TemporaryDirectory.make(prefix: "evidence")
    key = try Ed25519KeyPair.generate()
  }

  /// A sealed log of four records plus the seal, as a rotation writes it.
  func sealedLog(_ name: String = "run.jsonl") throws -> String {
    let path = "\(directory)/\(name)"
    let log = try EvidenceLog(path: path, signingKey: key)
    try log.record(step: "lock", target: "secret/lockstep/locks/a", outcome: "ok")
    try log.record(
      step: "stage", target: "secret/a", outcome: "ok",
      details: [
        "base_version": 3, "keys": ["A"], "new": ["A": log.fingerprint(SecretBytes(utf8: "n"))],
      ])
    try log.record(step: "apply", target: "postgres role aura", outcome: "ok")
    try log.record(step: "promote", target: "secret/a", outcome: "ok", details: ["version": 4])
    try log.seal()
    return path
  }

  func lines(_ path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
  }

  func write(_ lines: [String], to path: String) throws {
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: path, atomically: false, encoding: .utf8)
  }

  @Test func aSealedLogVerifiesWithItsKey() throws {
    let path = try sealedLog()
    let report = try EvidenceVerifier.verify(path: path, expectedKey: Hex.encode(key.publicKey))
    #expect(report.records == 5)
    #expect(report.publicKey == Hex.encode(key.publicKey))
    let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    #expect(mode == 0o600)
  }

  @Test func fingerprintsHideValuesButMatchForEqualValues() throws {
    let log = try EvidenceLog(path: "\(directory)/f.jsonl", signingKey: key)
    let a = log.fingerprint(SecretBytes(utf8: "value-one"))
    #expect(a == log.fingerprint(SecretBytes(utf8: "value-one")))
    #expect(a != log.fingerprint(SecretBytes(utf8: "value-two")))
    #expect(!a.contains("value"))
    let other = try EvidenceLog(
      path: "\(directory)/g.jsonl", signingKey: try Ed25519KeyPair.generate())
    #expect(other.fingerprint(SecretBytes(utf8: "value-one")) != a)
  }

  @Test(arguments: ["edit", "remove", "insert", "reorder", "truncate", "resign", "badsig"])
  func tamperingIsDetected(kind: String) throws {
    let path = try sealedLog()
    var records = try lines(path)
    switch kind {
    case "edit":
      records[1] = records[1].replacingOccurrences(
        of: "\"base_version\":3", with: "\"base_version\":2")
    case "remove": records.remove(at: 2)
    case "insert": records.insert(records[1], at: 2)
    case "reorder": records.swapAt(1, 2)
    case "truncate": records.removeLast()
    case "resign":
      // Whoever edits the last record and re-seals with a key of their own keeps the chain
      // intact: only the expected key exposes it.
      records.removeLast()
      records[3] = records[3].replacingOccurrences(of: "\"version\":4", with: "\"version\":5")
      try write(records, to: path)
      try EvidenceLog(path: path, signingKey: try Ed25519KeyPair.generate()).seal()
      #expect(try EvidenceVerifier.verify(path: path, expectedKey: nil).records == 5)
      #expect(throws: EvidenceVerifier.Failure.self) {
        try EvidenceVerifier.verify(path: path, expectedKey: Hex.encode(key.publicKey))
      }
      return
    case "badsig":
      records[4] = records[4].replacingOccurrences(
        of: "\"signature\":\"", with: "\"signature\":\"00")
      records[4] = String(records[4].dropLast(3)) + "\"}"
    default: Issue.record("unknown case")
    }
    try write(records, to: path)
    #expect(throws: EvidenceVerifier.Failure.self) {
      try EvidenceVerifier.verify(path: path, expectedKey: nil)
    }
  }

  @Test func aForeignKeyIsNamed() throws {
    let path = try sealedLog()
    let other = Hex.encode(try Ed25519KeyPair.generate().publicKey)
    do {
      _ = try EvidenceVerifier.verify(path: path, expectedKey: other)
      Issue.record("verified under the wrong key")
    } catch let failure as EvidenceVerifier.Failure {
      #expect(failure.description.contains("not the expected"))
    }
  }

  @Test func aResumedLogContinuesTheChain() throws {
    let path = "\(directory)/resume.jsonl"
    do {
      let first = try EvidenceLog(path: path, signingKey: key)
      try first.record(step: "lock", target: "l", outcome: "ok")
      try first.record(step: "stage", target: "s", outcome: "ok")
    }
    let second = try EvidenceLog(path: path, signingKey: key)
    #expect(!second.isSealed)
    try second.record(step: "apply", target: "p", outcome: "ok")
    try second.seal()
    #expect(try EvidenceVerifier.verify(path: path).records == 4)
    #expect(throws: (any Error).self) {
      try second.record(step: "late", target: "x", outcome: "ok")
    }
  }

  @Test func anUnsealedLogFails() throws {
    let path = "\(directory)/open.jsonl"
    let log = try EvidenceLog(path: path, signingKey: key)
    try log.record(step: "lock", target: "l", outcome: "ok")
    do {
      _ = try EvidenceVerifier.verify(path: path)
      Issue.record("an unsealed log verified")
    } catch let failure as EvidenceVerifier.Failure {
      #expect(failure.description.contains("not sealed"))
      #expect(failure.exitStatus == .mismatch)
    }
  }
}
