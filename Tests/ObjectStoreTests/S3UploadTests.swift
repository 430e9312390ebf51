import Crypto
import Foundation
import HTTP
import LockstepCore
import TestSupport
import Testing

@testable import ObjectStore

/// Streaming uploads against moto with signature checking on, requests counted in moto's
/// own request log (`s3.log`, one werkzeug line per request): one upload is at most 3
/// requests plus its multipart parts, and nothing is read back.
@Suite("S3 streaming uploads, request budget and Object Lock (moto)")
struct S3UploadTests {
  static func bytes(_ count: Int, seed: Int = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* seed &+ $0 >> 9) }
  }

  static func write(_ upload: any ObjectUpload, _ bytes: [UInt8], piece: Int = 65_552) throws {
    var offset = 0
    while offset < bytes.count {
      let end = min(offset + piece, bytes.count)
      try bytes[offset..<end].withUnsafeBytes { try upload.write($0) }
      offset = end
    }
  }

  @Test func aSmallObjectIsOnePutAfterOneProbe() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let s3 = try await S3ClientTests.freshBucket()
    let start = service.s3LogSize
    #expect(try await s3.exists("b/one") == false)
    let upload = try await s3.openUpload("b/one", options: ObjectWriteOptions())
    let payload = Self.bytes(300_000)
    try Self.write(upload, payload)
    try await upload.commit()
    #expect(upload.requests == 1)
    let lines = try await service.s3Requests(bucket: s3.bucket, since: start)
    #expect(lines.count == 2, "\(lines)")
    #expect(lines.first?.contains("\"GET /") == true)
    #expect(lines.last?.contains("\"PUT /") == true)
    #expect(try await s3.get("b/one") == payload)
    #expect(try await s3.exists("b/one"))
  }

  @Test func aLargeObjectStreamsAsPartsWithinTheBudget() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let s3 = try await S3ClientTests.freshBucket()
    let start = service.s3LogSize
    let payload = Self.bytes(2 * S3Upload.partSize + 123_457, seed: 13)
    let upload = try await s3.openUpload("big/object", options: ObjectWriteOptions())
    try Self.write(upload, payload)
    // Two full parts went out while writing; nothing is visible yet.
    #expect(upload.requests == 3)
    #expect(try await s3.head("big/object") == nil)
    try await upload.commit()
    // Create + 3 parts + Complete: 3 requests plus the parts (no HEAD, no read-back, no copy).
    #expect(upload.requests == 5)
    let lines = try await service.s3Requests(bucket: s3.bucket, since: start)
    #expect(lines.filter { $0.contains("partNumber=") }.count == 3, "\(lines)")
    #expect(lines.filter { !$0.contains("partNumber=") && !$0.contains("\"HEAD ") }.count == 2)
    #expect(try await s3.get("big/object") == payload)
  }

  @Test func anObjectOfExactlyOnePartIsOnePut() async throws {
    let s3 = try await S3ClientTests.freshBucket()
    let upload = try await s3.openUpload("exact", options: ObjectWriteOptions())
    try Self.write(upload, Self.bytes(S3Upload.partSize))
    try await upload.commit()
    #expect(upload.requests == 1)
    #expect(try await s3.head("exact")?.size == S3Upload.partSize)
  }

  @Test func anExistingObjectIsNeverOverwritten() async throws {
    let s3 = try await S3ClientTests.freshBucket()
    try await s3.put("taken", [1, 2, 3])
    let small = try await s3.openUpload("taken", options: ObjectWriteOptions())
    try Self.write(small, [9, 9])
    await #expect(throws: ObjectStoreError.alreadyExists("s3://\(s3.bucket)/taken")) {
      try await small.commit()
    }
    let large = try await s3.openUpload("taken", options: ObjectWriteOptions())
    try Self.write(large, Self.bytes(S3Upload.partSize + 10))
    await #expect(throws: ObjectStoreError.self) { try await large.commit() }
    await large.abort()
    #expect(try await s3.get("taken") == [1, 2, 3])
  }

  @Test func theProbeTellsAMissingBucketFromAMissingKey() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let missing = S3ClientTests.client(
      "lockstep-missing-\(UUID().uuidString.prefix(6).lowercased())", service: service)
    await #expect(throws: ObjectStoreError.noSuchBucket(missing.bucket)) {
      try await missing.exists("k")
    }
    let s3 = try await S3ClientTests.freshBucket()
    #expect(try await s3.exists("k") == false)
    try await s3.put("k", [])
    #expect(try await s3.exists("k"))
  }

  @Test func objectLockRetentionIsSetAndPruneLeavesTheObject() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let s3 = S3ClientTests.client(
      "lockstep-lock-\(UUID().uuidString.prefix(6).lowercased())", service: service)
    try await s3.createLockedBucketForTest()
    let until = Date().addingTimeInterval(86_400)
    for mode in ObjectWriteOptions.RetentionMode.allCases {
      let key = "locked-\(mode.rawValue.lowercased())"
      let upload = try await s3.openUpload(
        key, options: ObjectWriteOptions(retainUntil: until, retentionMode: mode))
      try Self.write(upload, Self.bytes(1000))
      try await upload.commit()
      let head = try await s3.send(.head, key: key)
      #expect(head.header("x-amz-object-lock-mode") == mode.rawValue)
      let stored = try #require(
        head.header("x-amz-object-lock-retain-until-date").flatMap(S3Client.parseISODate))
      #expect(abs(stored.timeIntervalSince(until)) < 2)
      guard case .retained(let deletable) = try await s3.deleteUnlessRetained(key) else {
        Issue.record("a retained object was deleted")
        continue
      }
      #expect(abs((deletable ?? .distantPast).timeIntervalSince(until)) < 2)
      #expect(try await s3.get(key) == Self.bytes(1000))
    }
    // Without retention in the same (versioned) bucket: deleted for good, not only hidden.
    try await s3.put("plain", [1])
    #expect(try await s3.deleteUnlessRetained("plain") == .deleted)
    #expect(try await s3.head("plain") == nil)
  }

  @Test func retentionOnABucketWithoutObjectLockIsOneSentence() async throws {
    let s3 = try await S3ClientTests.freshBucket()
    let upload = try await s3.openUpload(
      "x", options: ObjectWriteOptions(retainUntil: Date().addingTimeInterval(3600)))
    try Self.write(upload, [1, 2, 3])
    let error = await #expect(throws: ObjectStoreError.self) { try await upload.commit() }
    #expect(error?.description.contains("s3://\(s3.bucket)") == true)
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
