import Foundation
import HTTP
import LockstepCore
import TestSupport
import Testing

@testable import ObjectStore

/// Against a real moto_server. moto's default mode accepts any key pair and does not check
/// signatures, so "bad credentials" is checked on S3's documented error document instead;
/// a bucket policy that denies is enforced by moto and gives a real 403.
@Suite("S3 client against moto")
struct S3ClientTests {
  static func client(_ bucket: String, service: LocalService) -> S3Client {
    S3Client(
      bucket: bucket,
      configuration: S3Configuration(
        accessKeyID: "AKIDTEST", secretAccessKey: SecretBytes(utf8: "moto-secret-key"),
        region: "us-east-1", endpoint: "http://127.0.0.1:\(service.port)"))
  }

  /// A fresh bucket on the shared moto server.
  static func freshBucket() async throws -> S3Client {
    let service = try await SharedServices.shared.service(.s3)
    let client = client("lockstep-\(UUID().uuidString.prefix(8).lowercased())", service: service)
    try await client.createBucket()
    return client
  }

  @Test func putGetHeadListDeleteCopy() async throws {
    let s3 = try await Self.freshBucket()
    var payload = [UInt8](repeating: 0, count: 200_000)
    for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index * 7) }
    try await s3.put("backups/one.bin", payload)
    try await s3.put("backups/two words+plus.bin", [0, 1, 2])
    try await s3.put("other/x", [9])

    #expect(try await s3.get("backups/one.bin") == payload)
    #expect(try await s3.get("backups/two words+plus.bin") == [0, 1, 2])
    let info = try #require(try await s3.head("backups/one.bin"))
    #expect(info.size == payload.count)
    #expect(info.lastModified != nil)

    let listed = try await s3.list(prefix: "backups/")
    #expect(listed.map(\.key) == ["backups/one.bin", "backups/two words+plus.bin"])
    #expect(listed.first?.size == payload.count)

    try await s3.copy(from: "backups/one.bin", to: "backups/three.bin")
    #expect(try await s3.get("backups/three.bin") == payload)

    try await s3.delete("backups/one.bin")
    #expect(try await s3.head("backups/one.bin") == nil)
    try await s3.delete("backups/one.bin")  // already gone: still fine
    #expect(try await s3.list(prefix: "backups/").count == 2)
  }

  @Test func listFollowsContinuationTokens() async throws {
    let s3 = try await Self.freshBucket()
    for index in 0..<7 { try await s3.put("p/\(index)", [UInt8(index)]) }
    let listed = try await s3.list(prefix: "p/", pageSize: 2)
    #expect(listed.map(\.key) == (0..<7).map { "p/\($0)" })
  }

  @Test func emptyObjectRoundTrips() async throws {
    let s3 = try await Self.freshBucket()
    try await s3.put("empty", [])
    #expect(try await s3.get("empty") == [])
    #expect(try await s3.head("empty")?.size == 0)
  }

  @Test func missingKeyAndBucketAreOneSentence() async throws {
    let s3 = try await Self.freshBucket()
    await #expect(throws: ObjectStoreError.noSuchKey("\(s3.bucketURL)/nope")) {
      try await s3.get("nope")
    }
    let service = try await SharedServices.shared.service(.s3)
    let missing = Self.client("no-such-bucket-here", service: service)
    let error = await #expect(throws: ObjectStoreError.self) { try await missing.get("k") }
    #expect(error == .noSuchBucket("no-such-bucket-here"))
    #expect(error?.description == "The bucket no-such-bucket-here does not exist.")
    await #expect(throws: ObjectStoreError.noSuchBucket("no-such-bucket-here")) {
      try await missing.head("k")
    }
    await #expect(throws: ObjectStoreError.noSuchBucket("no-such-bucket-here")) {
      try await missing.check()
    }
  }

  @Test func deniedByBucketPolicyNamesBucketAndKey() async throws {
    let s3 = try await Self.freshBucket()
    try await s3.put("secret.bin", [1])
    try await s3.putPolicy(
      """
      {"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*",\
      "Resource":["arn:aws:s3:::\(s3.bucket)","arn:aws:s3:::\(s3.bucket)/*"]}]}
      """)
    let error = await #expect(throws: ObjectStoreError.self) { try await s3.get("secret.bin") }
    #expect(
      error?.description
        == "Access denied: the credentials may not read \(s3.bucketURL)/secret.bin.")
    #expect(error?.exitStatus == .noPermission)
    await #expect(throws: ObjectStoreError.self) { try await s3.put("new.bin", [2]) }
  }

  @Test func unreachableEndpointIsOneSentence() async throws {
    let port = FreePort.next()
    let s3 = S3Client(
      bucket: "somewhere",
      configuration: S3Configuration(
        accessKeyID: "AK", secretAccessKey: SecretBytes(utf8: "sk"),
        endpoint: "http://127.0.0.1:\(port)"))
    let error = await #expect(throws: ObjectStoreError.self) { try await s3.check() }
    #expect(error?.exitStatus == .unavailable)
    #expect(
      error?.description
        == "Cannot reach the object store at http://127.0.0.1:\(port): Connection refused by 127.0.0.1:\(port): is the server running?"
    )
  }

  @Test func checkReportsAWorkingBucket() async throws {
    let s3 = try await Self.freshBucket()
    let line = try await s3.check()
    #expect(line.contains(s3.bucketURL))
    #expect(line.contains("credentials accepted"))
  }

  @Test func badCredentialErrorDocumentsMapToOneSentence() throws {
    let s3 = S3Client(
      bucket: "bucket-x",
      configuration: S3Configuration(
        accessKeyID: "AKID", secretAccessKey: SecretBytes(utf8: "very-secret-value"),
        endpoint: "https://s3.example.com"))
    for code in ["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"] {
      let body = "<?xml version=\"1.0\"?><Error><Code>\(code)</Code><Message>m</Message></Error>"
      let response = HTTPResponse(
        status: 403, headers: [], body: SecretBytes(utf8: body), newConnections: 0)
      let error = s3.error(for: response, key: "k", operation: "read")
      #expect(error == .badCredentials(endpoint: "https://s3.example.com", code: code))
      #expect(!error.description.contains("very-secret-value"))
    }
    let denied = HTTPResponse(
      status: 403, headers: [],
      body: SecretBytes(
        utf8: "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"),
      newConnections: 0)
    #expect(
      s3.error(for: denied, key: "a/b", operation: "write").description
        == "Access denied: the credentials may not write s3://bucket-x/a/b (AccessDenied: Access Denied)."
    )
  }
}

extension S3Client {
  /// Test-only: the bucket, created on the server (moto needs it before any put).
  func createBucket() async throws {
    let response = try await send(.put, key: nil)
    guard response.isSuccess else { throw error(for: response, key: nil, operation: "create") }
  }

  func putPolicy(_ policy: String) async throws {
    let response = try await send(
      .put, key: nil, query: [("policy", "")], body: Array(policy.utf8),
      headers: [HTTPHeader("Content-Type", "application/json")])
    guard response.isSuccess else { throw error(for: response, key: nil, operation: "policy") }
  }
}
