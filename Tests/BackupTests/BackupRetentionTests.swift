import Foundation
import LockstepCore
import Testing

@testable import Backup

@Suite("Retention (restic semantics) and payload format")
struct BackupRetentionTests {
  @Test func emptyPolicyIsRefused() {
    #expect(throws: BackupError.emptyRetentionPolicy) { try RetentionPolicy().apply([]) }
  }

  @Test func keepsNewestPerPeriod() throws {
    let entries = [
      "2026-03-10T12:30:00Z", "2026-03-10T12:10:00Z", "2026-03-10T11:50:00Z",
      "2026-03-09T23:00:00Z", "2026-03-09T08:00:00Z", "2026-03-02T08:00:00Z",
      "2026-02-27T08:00:00Z", "2026-01-15T08:00:00Z",
    ].map(BackupDestination.Entry.at)
    func kept(_ policy: RetentionPolicy) throws -> [String] {
      try policy.apply(entries.shuffled()).keep.map { BackupName.iso8601($0.date) }
    }
    #expect(try kept(.init(last: 2)) == ["2026-03-10T12:30:00Z", "2026-03-10T12:10:00Z"])
    #expect(try kept(.init(hourly: 2)) == ["2026-03-10T12:30:00Z", "2026-03-10T11:50:00Z"])
    #expect(
      try kept(.init(daily: 3))
        == ["2026-03-10T12:30:00Z", "2026-03-09T23:00:00Z", "2026-03-02T08:00:00Z"])
    // ISO weeks: 10 Mar and 9 Mar share week 11; 2 Mar is week 10; 27 Feb week 9.
    #expect(
      try kept(.init(weekly: 3))
        == ["2026-03-10T12:30:00Z", "2026-03-02T08:00:00Z", "2026-02-27T08:00:00Z"])
    #expect(
      try kept(.init(monthly: 5))
        == ["2026-03-10T12:30:00Z", "2026-02-27T08:00:00Z", "2026-01-15T08:00:00Z"])
    let combined = try RetentionPolicy(last: 1, monthly: 2).apply(entries)
    #expect(combined.keep.count == 2)
    #expect(combined.remove.count == 6)
  }

  @Test func namesCarryUTCTimeAndSequence() {
    let date = Date(timeIntervalSince1970: 1_795_736_318)
    let name = BackupName.make(date)
    #expect(name == "lockstep-backup-20261126T233838Z.lsb")
    #expect(BackupName.date(of: name) == date)
    #expect(BackupName.sequence(of: BackupName.make(date, sequence: 3)) == 3)
    #expect(BackupName.date(of: "notes.txt") == nil)
  }

  @Test func base64RoundTripsEveryByte() {
    let bytes = (0..<256).map { UInt8($0) } + [0, 0xFF]
    for length in 0..<bytes.count where length % 37 == 0 || length < 5 {
      let slice = Array(bytes.prefix(length))
      let buffer = HTTPBufferShim.make()
      slice.withUnsafeBytes { Base64.encode($0, into: buffer) }
      let encoded = buffer.withUnsafeBytes { Array($0) }
      #expect(String(decoding: encoded, as: UTF8.self) == Data(slice).base64EncodedString())
      let decoded = encoded.withUnsafeBytes { Base64.decode($0) }
      #expect(decoded?.unsafeArray() == slice)
    }
    #expect(Array("abc".utf8).withUnsafeBytes { Base64.decode($0) } == nil)
  }
}

enum HTTPBufferShim {
  static func make() -> SecretBuffer { SecretBuffer(capacity: 16) }
}
