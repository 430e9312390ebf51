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
    // moto checks signatures: the IAM user's key that stack.sh created.
    return s3.s3Environment
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

/// Issue 17 item 4 and issue 19: exact prefixes, and the credentials a platform gives.
@Suite("Backups in S3: prefixes and credential sources (moto)")
struct BackupS3CredentialTests {
  /// One backup of a one-secret mount to `url`, with S3 settings from `environment`.
  static func backUp(to url: String, environment: [String: String]) async throws -> String {
    let fixture = try await BackupFixture.make()
    try fixture.put("a", #"{"K":"1"}"#)
    let creator = BackupCreator(
      scope: .init(mounts: [fixture.mount]),
      recipients: BackupRecipients(recipients: [fixture.recipient]),
      destinations: [try BackupDestination.parse(url, environment: environment)])
    return try await creator.run(vault: fixture.root).locations[0]
  }

  @Test func aPrefixWithoutSlashIsAFolder() async throws {
    let environment = try await BackupObjectStoreTests.environment()
    let store = try await BackupObjectStoreTests.bucket(environment)
    let written = try await Self.backUp(to: "s3://\(store.bucket)/vault", environment: environment)
    #expect(written.hasPrefix("s3://\(store.bucket)/vault/lockstep-backup-"))
    // Neighbours that a string prefix would have matched.
    try await store.put("vault2/lockstep-backup-20200101T000000Z.lsb", [1])
    try await store.put("vaultlockstep-backup-20200101T000000Z.lsb", [1])
    for url in ["s3://\(store.bucket)/vault", "s3://\(store.bucket)/vault/"] {
      let listed = try await BackupDestination.parse(url, environment: environment).list()
      #expect(listed.map(\.location) == [written], "\(url)")
    }
    #expect(try await store.list(prefix: "vault/").count == 1)
  }

  @Test func webIdentityCredentialsBackUpEndToEnd() async throws {
    let s3 = try await SharedServices.shared.service(.s3)
    let store = try await BackupObjectStoreTests.bucket(s3.s3Environment)
    let directory = try TemporaryDirectory.make(prefix: "lockstep-web-identity")
    let tokenFile = directory + "/token"
    try "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig\n".write(
      toFile: tokenFile, atomically: true, encoding: .utf8)
    let environment = [
      "HOME": directory, "AWS_ENDPOINT_URL": "http://127.0.0.1:\(s3.port)",
      "AWS_REGION": "us-east-1", "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
      "AWS_ROLE_ARN": s3.s3RoleARN, "AWS_ROLE_SESSION_NAME": "lockstep-test",
    ]
    let configuration = try S3Configuration.fromEnvironment(environment)
    #expect(configuration.credentials.origin == "web identity for \(s3.s3RoleARN)")
    let written = try await Self.backUp(to: "s3://\(store.bucket)/vault/", environment: environment)
    #expect(try await store.head(String(written.dropFirst("s3://\(store.bucket)/".count))) != nil)
    // The assumed role's keys are temporary ones (ASIA…) with a session token.
    let credentials = try await configuration.credentials.current()
    #expect(credentials.accessKeyID.hasPrefix("ASIA"))
    #expect(credentials.sessionToken != nil)
  }

  /// The shipped CronJob gets its S3 keys by web identity: its env names a role and a token
  /// file inside a projected service-account token for STS, and that env, pointed at the
  /// local stack's role and a token file, backs up.
  @Test func theCronJobTemplateBacksUpByWebIdentity() async throws {
    let parsed = try ChildProcess.run(
      "python3",
      [
        "-c",
        "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['spec']['jobTemplate']['spec']['template']['spec']))",
        Repository.root + "/templates/k8s/backup-cronjob.yaml",
      ], timeout: .seconds(30))
    #expect(parsed.succeeded, "\(parsed.stderrText)")
    let spec = try #require(
      try JSONSerialization.jsonObject(with: Data(parsed.stdout)) as? [String: Any])
    let container = try #require((spec["containers"] as? [[String: Any]])?.first)
    var env: [String: String] = [:]
    for item in container["env"] as? [[String: Any]] ?? [] {
      if let name = item["name"] as? String, let value = item["value"] as? String {
        env[name] = value
      }
    }
    #expect(container["envFrom"] == nil)
    #expect(env["AWS_ACCESS_KEY_ID"] == nil && env["AWS_SECRET_ACCESS_KEY"] == nil)
    #expect(spec["serviceAccountName"] as? String == "lockstep-backup")
    let tokenFile = try #require(env["AWS_WEB_IDENTITY_TOKEN_FILE"])
    #expect(env["AWS_ROLE_ARN"]?.hasPrefix("arn:aws:iam::") == true)
    let mount = try #require(
      (container["volumeMounts"] as? [[String: Any]])?.first {
        tokenFile.hasPrefix(($0["mountPath"] as? String ?? "?") + "/")
      })
    let volume = try #require(
      (spec["volumes"] as? [[String: Any]])?.first {
        $0["name"] as? String == mount["name"] as? String
      })
    let source = try #require(
      ((volume["projected"] as? [String: Any])?["sources"] as? [[String: Any]])?.first?[
        "serviceAccountToken"] as? [String: Any])
    #expect(source["audience"] as? String == "sts.amazonaws.com")
    #expect(tokenFile.hasSuffix("/" + (source["path"] as? String ?? "?")))

    let s3 = try await SharedServices.shared.service(.s3)
    let store = try await BackupObjectStoreTests.bucket(s3.s3Environment)
    let directory = try TemporaryDirectory.make(prefix: "lockstep-cronjob")
    try "projected-token".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
    var environment = env.filter { $0.key.hasPrefix("AWS_") }
    environment["AWS_ROLE_ARN"] = s3.s3RoleARN
    environment["AWS_WEB_IDENTITY_TOKEN_FILE"] = directory + "/token"
    environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:\(s3.port)"
    environment["HOME"] = directory
    let written = try await Self.backUp(to: "s3://\(store.bucket)/vault/", environment: environment)
    #expect(written.hasPrefix("s3://\(store.bucket)/vault/lockstep-backup-"))
  }

  @Test func profileCredentialsBackUpEndToEnd() async throws {
    let s3 = try await SharedServices.shared.service(.s3)
    let store = try await BackupObjectStoreTests.bucket(s3.s3Environment)
    let home = try TemporaryDirectory.make(prefix: "lockstep-profile")
    try FileManager.default.createDirectory(
      atPath: home + "/.aws", withIntermediateDirectories: true)
    try """
    [default]
    aws_access_key_id = AKIDWRONGDEFAULT
    aws_secret_access_key = wrong
    [nightly]
    aws_access_key_id = \(s3.s3AccessKeyID)
    aws_secret_access_key = \(s3.s3SecretAccessKey)
    """.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
    try "[profile nightly]\nregion = us-east-1\n".write(
      toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
    let environment = [
      "HOME": home, "AWS_ENDPOINT_URL": "http://127.0.0.1:\(s3.port)", "AWS_PROFILE": "nightly",
    ]
    let written = try await Self.backUp(to: "s3://\(store.bucket)/p/", environment: environment)
    #expect(written.hasPrefix("s3://\(store.bucket)/p/lockstep-backup-"))
    // The default profile's wrong key is refused in one sentence naming where it came from.
    var wrong = environment
    wrong["AWS_PROFILE"] = nil
    let error = await #expect(throws: ObjectStoreError.self) {
      try await Self.backUp(to: "s3://\(store.bucket)/p/", environment: wrong)
    }
    #expect(
      error?.description
        == "http://127.0.0.1:\(s3.port) refused the credentials from profile default of the shared AWS files (InvalidAccessKeyId)."
    )
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
