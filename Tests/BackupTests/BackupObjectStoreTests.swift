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
    let fixture = try await BackupFixture.make()
    try fixture.put("app/a", #"{"K":"1","J":{"x":[1]}}"#)
    let environment = try await Self.environment()
    let store = try await Self.bucket(environment)
    let url = "s3://\(store.bucket)/vault/"
    let destination = try BackupDestination.parse(url, environment: environment)
    let creator = BackupCreator(
      scope: .init(mounts: [fixture.mount]),
      recipients: BackupRecipients(recipients: [fixture.recipient]), destinations: [destination])
    let vault = try fixture.client(policy: "lockstep-backup")
    let first = try await creator.run(vault: vault, now: Date(timeIntervalSinceNow: -7200))
    let second = try await creator.run(vault: vault, now: Date(timeIntervalSinceNow: -3600))
    let third = try await creator.run(vault: vault)
    // Only the committed objects remain: no temporary object left behind.
    let keys = try await store.list(prefix: "vault/").map(\.key)
    #expect(keys.count == 3 && keys.allSatisfy { !$0.contains(".tmp") })
    let listed = try await destination.list()
    #expect(listed.map(\.location) == [third, second, first].map { $0.locations[0] })

    let bytes = try await BackupDestination.read(third.locations[0], environment: environment)
    let opener = BackupOpener(identities: [.x25519(fixture.identity)])
    let (report, payload) = try await BackupVerifier(opener: opener).verify(bytes)
    #expect(report.paths == 1)
    let target = try fixture.vaultTesting.freshMount()
    let restored = try await VaultRestorer(vault: fixture.root, options: .init(toMount: target))
      .restore(payload)
    #expect(restored.added == ["\(target)/app/a"])
    #expect(try fixture.rawData("app/a", mount: target) == fixture.rawData("app/a"))

    let policy = RetentionPolicy(last: 1)
    let (keep, remove) = try policy.apply(try await destination.list())
    #expect(keep.map(\.location) == [third.locations[0]])
    for entry in remove { try await destination.delete(entry) }
    #expect(try await destination.list().map(\.location) == [third.locations[0]])
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
