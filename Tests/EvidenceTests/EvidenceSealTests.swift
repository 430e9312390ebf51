import Crypto
import Evidence
import Foundation
import LockstepCore
import TestSupport
import Testing

/// Issue 11 (the seal record signed with its own fields, times monotonic) and issue 17 (one
/// trail continued across machines, logs in progress readable).
extension EvidenceTests {
  func edit(_ path: String, line index: Int, _ change: (inout [String: Any]) -> Void) throws {
    var all = try lines(path)
    var record = try #require(
      try JSONSerialization.jsonObject(with: Data(all[index].utf8)) as? [String: Any])
    change(&record)
    let data = try JSONSerialization.data(
      withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
    all[index] = String(decoding: data, as: UTF8.self)
    try write(all, to: path)
  }

  @Test func theSealsOwnTimeAndActorAreSigned() throws {
    for change in [
      { (record: inout [String: Any]) in record["time"] = "2099-01-01T00:00:00.000Z" },
      { (record: inout [String: Any]) in record["actor"] = ["user": "mallory", "host": "x"] },
      { (record: inout [String: Any]) in record["note"] = "added" },
    ] {
      let path = try sealedLog("seal-\(UUID().uuidString).jsonl")
      try edit(path, line: 4, change)
      #expect(throws: EvidenceVerifier.Failure.self) {
        try EvidenceVerifier.verify(path: path, expectedKey: Hex.encode(key.publicKey))
      }
    }
  }

  @Test func timesThatGoBackwardsFail() throws {
    let path = try sealedLog()
    // Re-chain after the edit so only the time is wrong.
    var all = try lines(path)
    var previous = EvidenceLog.genesis
    for index in 0..<4 {
      var record = try #require(
        try JSONSerialization.jsonObject(with: Data(all[index].utf8)) as? [String: Any])
      record["prev"] = previous
      if index == 2 { record["time"] = "2001-01-01T00:00:00.000Z" }
      let data = try JSONSerialization.data(
        withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
      all[index] = String(decoding: data, as: UTF8.self)
      previous = Hex.encode(SHA256.hash(Array(data)))
    }
    try write(Array(all.prefix(4)), to: path)
    let failure = #expect(throws: EvidenceVerifier.Failure.self) {
      try EvidenceVerifier.verify(path: path, expectedKey: nil, allowUnsealed: true)
    }
    #expect(failure?.description.contains("backwards") == true)
  }

  @Test func anUnsealedLogIsReportedAsInProgressOnlyWhenAllowed() throws {
    let path = "\(directory)/open.jsonl"
    let log = try EvidenceLog(
      path: path, signingKey: key, policyDigest: String(repeating: "a", count: 64))
    try log.record(step: "lock", target: "l", outcome: "ok")
    try log.record(step: "stage", target: "s", outcome: "ok")
    #expect(throws: EvidenceVerifier.Failure.self) {
      try EvidenceVerifier.verify(path: path, expectedKey: nil)
    }
    let report = try EvidenceVerifier.verify(path: path, expectedKey: nil, allowUnsealed: true)
    #expect(!report.sealed && report.records == 2)
    #expect(try lines(path).allSatisfy { $0.contains("\"policy_sha256\":\"aaaa") })
  }

  @Test func aTrailIsContinuedFromTheCopyOfRecord() throws {
    let first = "\(directory)/a/run.jsonl"
    let log = try EvidenceLog(path: first, signingKey: key)
    try log.record(step: "lock", target: "l", outcome: "ok")
    try log.record(step: "stage", target: "s", outcome: "ok")
    let copy = try #require(FileManager.default.contents(atPath: first))
    // Another machine: no local file; the chain is written from the copy and continued.
    let second = "\(directory)/b/run.jsonl"
    try EvidenceLog.continueChain(at: second, from: copy)
    let resumed = try EvidenceLog(path: second, signingKey: key)
    try resumed.record(step: "apply", target: "p", outcome: "ok")
    try resumed.seal()
    let report = try EvidenceVerifier.verify(path: second, expectedKey: Hex.encode(key.publicKey))
    #expect(report.records == 4)
    // The first machine's file continues the copy (it is the same): accepted as is.
    try EvidenceLog.continueChain(at: first, from: copy)
    // A different file with the same name is refused and left alone.
    let other = "\(directory)/c/run.jsonl"
    let stranger = try EvidenceLog(path: other, signingKey: key)
    try stranger.record(step: "lock", target: "elsewhere", outcome: "ok")
    let before = try #require(FileManager.default.contents(atPath: other))
    #expect(throws: UserError.self) { try EvidenceLog.continueChain(at: other, from: copy) }
    #expect(FileManager.default.contents(atPath: other) == before)
  }
}
