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

/// Backups to S3 (moto): temp object → read back → commit; list, verify, prune; 403/404.
@Suite("Backups in S3 (moto)")
struct BackupObjectStoreTests {
  static func environment() async throws -> [String: String] {
    let s3 = try await SharedServices.shared.service(.s3)
    return [
      "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "moto-secret",
      "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:\(s3.port)",
    ]
  }

  static func bucket(_ environment: [String: String]) async throws -> S3Client {
    let name = "bk-" + UUID().uuidString.prefix(8).lowercased()
    let client = S3Client(
      bucket: name, configuration: try S3Configuration.fromEnvironment(environment))
    try await client.createBucketForTest()
    return client
  }

  @Test func createListVerifyRestorePrune() async throws {
    let environment = try await Self.environment()
    let store = try await Self.bucket(environment)
    try await expectBucketWorkflow(
      url: "s3://\(store.bucket)/vault/", store: store, environment: environment)
  }

  @Test func missingObjectAndBucketAndDeniedBucket() async throws {
    let environment = try await Self.environment()
    let store = try await Self.bucket(environment)
    try await expectMissingObjectAndBucket(
      scheme: "s3", bucket: store.bucket, environment: environment)
    let fixture = try await BackupFixture.make()
    try fixture.put("a", #"{"K":"1"}"#)
    try await store.denyEverythingForTest()
    let denied = BackupCreator(
      scope: .init(mounts: [fixture.mount]),
      recipients: BackupRecipients(recipients: [fixture.recipient]),
      destinations: [
        try BackupDestination.parse("s3://\(store.bucket)/p/", environment: environment)
      ])
    let error = await #expect(throws: ObjectStoreError.self) {
      try await denied.run(vault: fixture.root)
    }
    #expect(error?.exitStatus == .noPermission)
    #expect(error?.description.contains("s3://\(store.bucket)/p/") == true)
  }
}

extension S3Client {
  /// Test-only bucket setup through the same signed request path.
  func createBucketForTest() async throws {
    let response = try await send(.put, key: nil)
    guard response.isSuccess else { throw error(for: response, key: nil, operation: "create") }
  }

  func denyEverythingForTest() async throws {
    let policy = """
      {"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*",\
      "Resource":["arn:aws:s3:::\(bucket)","arn:aws:s3:::\(bucket)/*"]}]}
      """
    let response = try await send(
      .put, key: nil, query: [("policy", "")], body: Array(policy.utf8),
      headers: [.init("Content-Type", "application/json")])
    guard response.isSuccess else { throw error(for: response, key: nil, operation: "policy") }
  }
}
