import Crypto
import Envelope
import Foundation
import HTTP
import LockstepCore
import TestSupport
import Testing
import Vault

@testable import Backup
@testable import ObjectStore

/// Issue 14: backups stream into their destinations; one S3 backup costs at most 3 requests
/// plus its multipart parts (counted in moto's own request log, signatures checked); S3
/// Object Lock retention on upload, and prune leaving retained backups in place.
@Suite("Streaming backups to S3: request budget and Object Lock (moto)")
struct BackupStreamingTests {
  static func lockedBucket(_ service: LocalService) async throws -> S3Client {
    let store = S3Client(
      bucket: "lock-" + UUID().uuidString.prefix(8).lowercased(),
      configuration: try S3Configuration.fromEnvironment(service.s3Environment))
    try await store.createLockedBucketForTest()
    return store
  }

  @Test func aKVBackupIsAProbeAndOnePut() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let store = try await BackupObjectStoreTests.bucket(service.s3Environment)
    let fixture = try await BackupFixture.make()
    for index in 0..<20 { try fixture.put("app/s\(index)", #"{"K":"v\#(index)"}"#) }
    let start = service.s3LogSize
    let result = try await BackupCreator(
      scope: .init(mounts: [fixture.mount]),
      recipients: BackupRecipients(recipients: [fixture.recipient]),
      destinations: [
        try BackupDestination.parse(
          "s3://\(store.bucket)/vault/", environment: service.s3Environment)
      ]
    ).run(vault: fixture.root)
    let lines = try await service.s3Requests(bucket: store.bucket, since: start)
    #expect(lines.count == 2, "\(lines)")
    #expect(lines.first?.contains("\"GET /") == true && lines.last?.contains("\"PUT /") == true)
    #expect(result.paths == 20 && result.versions == 20)
    let key = String(result.locations[0].dropFirst("s3://\(store.bucket)/".count))
    let stored = try await store.get(key)
    #expect(stored.count == result.bytes)
    let opened = try await BackupOpener(
      identities: [.x25519(fixture.identity)], trust: SignerTrust(allowUnsigned: true)
    ).open(stored)
    #expect(opened.payload.secrets.count == 20)
  }

  @Test func retainDaysLocksTheBackupAndPruneLeavesIt() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let store = try await Self.lockedBucket(service)
    let fixture = try await BackupFixture.make()
    try fixture.put("a", #"{"K":"1"}"#)
    let url = "s3://\(store.bucket)/vault/"
    func backUp(_ date: Date, retain: Bool) async throws -> String {
      try await BackupCreator(
        scope: .init(mounts: [fixture.mount]),
        recipients: BackupRecipients(recipients: [fixture.recipient]),
        destinations: [try BackupDestination.parse(url, environment: service.s3Environment)],
        writeOptions: ObjectWriteOptions(
          retainUntil: retain ? date.addingTimeInterval(86_400) : nil, retentionMode: .governance)
      ).run(vault: fixture.root, now: date).locations[0]
    }
    let now = Date()
    let locked = try await backUp(now.addingTimeInterval(-7200), retain: true)
    let plain = try await backUp(now.addingTimeInterval(-3600), retain: false)
    let newest = try await backUp(now, retain: true)
    let lockedKey = String(locked.dropFirst("s3://\(store.bucket)/".count))
    let head = try await store.send(.head, key: lockedKey)
    #expect(head.header("x-amz-object-lock-mode") == "GOVERNANCE")

    let destination = try BackupDestination.parse(url, environment: service.s3Environment)
    let plan = try RetentionPolicy(last: 1).planPerKind(try await destination.list())
    #expect(plan.keep.map(\.location) == [newest])
    var outcomes: [String: DeletionOutcome] = [:]
    for entry in plan.remove {
      outcomes[entry.location] = try await destination.deleteUnlessRetained(entry)
    }
    #expect(outcomes[plain] == .deleted)
    guard case .retained(let until) = outcomes[locked] else {
      Issue.record("the locked backup was not reported as retained: \(outcomes)")
      return
    }
    #expect(until.map { $0 > now } == true)
    #expect(Set(try await destination.list().map(\.location)) == [locked, newest])
  }

  @Test func retainDaysOnADirectoryIsAUsageError() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("a", #"{"K":"1"}"#)
    let directory = try TemporaryDirectory.make(prefix: "lockstep-retain")
    let error = await #expect(throws: BackupError.self) {
      try await BackupCreator(
        scope: .init(mounts: [fixture.mount]),
        recipients: BackupRecipients(recipients: [fixture.recipient]),
        destinations: [.directory(directory)],
        writeOptions: ObjectWriteOptions(retainUntil: Date().addingTimeInterval(86_400))
      ).run(vault: fixture.root)
    }
    #expect(error?.exitStatus == .usage)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
  }

}

extension S3Client {
  /// Test-only: a bucket with Object Lock enabled (which turns versioning on).
  func createLockedBucketForTest() async throws {
    let response = try await send(
      .put, key: nil, headers: [HTTPHeader("x-amz-bucket-object-lock-enabled", "true")])
    guard response.isSuccess else { throw error(for: response, key: nil, operation: "create") }
  }
}
