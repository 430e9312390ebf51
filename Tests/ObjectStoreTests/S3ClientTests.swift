import Crypto
import Foundation
import HTTP
import LockstepCore
import TestSupport
import Testing

@testable import ObjectStore

/// Against a real moto_server that checks every signature (`stack.sh` starts it with
/// `INITIAL_NO_AUTH_ACTION_COUNT` and creates the IAM user whose key these tests sign with);
/// a bucket policy that denies is enforced by moto and gives a real 403.
@Suite("S3 client against moto")
struct S3ClientTests {
  static func client(_ bucket: String, service: LocalService) -> S3Client {
    S3Client(
      bucket: bucket,
      configuration: S3Configuration(
        accessKeyID: service.s3AccessKeyID,
        secretAccessKey: SecretBytes(utf8: service.s3SecretAccessKey),
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
      #expect(
        error
          == .badCredentials(
            endpoint: "https://s3.example.com", code: code, origin: "configuration"))
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

/// What issue 19 found: moto in signature-checking mode refused every request libcurl's
/// signer made. Each test here fails against a server that checks signatures unless the
/// request is signed over exactly what is sent.
@Suite("S3 signatures against signature-checking moto")
struct S3SignatureTests {
  @Test func everyMethodAndBodySizeIsAccepted() async throws {
    let s3 = try await S3ClientTests.freshBucket()
    // ≥ 1 MiB: libcurl adds `Expect: 100-continue` to such bodies unless told not to.
    for size in [0, 1, 65_536, 1_048_576, 3 * 1_048_576 + 17] {
      let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ size) }
      try await s3.put("sizes/\(size).bin", payload)
      #expect(try await s3.get("sizes/\(size).bin") == payload, "size \(size)")
      #expect(try await s3.head("sizes/\(size).bin")?.size == size)
    }
    #expect(try await s3.list(prefix: "sizes/").count == 5)
    try await s3.copy(from: "sizes/1048576.bin", to: "sizes/copy of+it.bin")
    try await s3.delete("sizes/1048576.bin")
    #expect(try await s3.head("sizes/1048576.bin") == nil)
    #expect(try await s3.check().contains("credentials accepted"))
  }

  @Test func signedHeadersAreExactlyTheHeadersSent() throws {
    let s3 = S3Client(
      bucket: "bkt",
      configuration: S3Configuration(
        accessKeyID: "AKID", secretAccessKey: SecretBytes(utf8: "s"),
        endpoint: "http://127.0.0.1:9"))
    let request = s3.signedRequest(
      .put, key: "a b", body: [UInt8](repeating: 7, count: 2_000_000),
      headers: [HTTPHeader("Content-Type", "application/octet-stream")],
      credentials: AWSCredentials(
        accessKeyID: "AKID", secretAccessKey: SecretBytes(utf8: "s"),
        sessionToken: SecretBytes(utf8: "tok")))
    let names = Set(request.headers.map { $0.name.lowercased() })
    let authorization = try #require(
      request.headers.first { $0.name == "Authorization" }.flatMap { header -> String? in
        if case .text(let value) = header.value { return value }
        return nil
      })
    let signed = try #require(
      authorization.split(separator: " ").first { $0.hasPrefix("SignedHeaders=") })
    let signedNames = signed.dropFirst("SignedHeaders=".count).dropLast().split(separator: ";")
    #expect(
      signedNames == [
        "content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token",
      ])
    for name in signedNames { #expect(names.contains(String(name)), "\(name) is signed, not sent") }
    #expect(!names.contains("expect"))
  }

  @Test func aWrongSecretIsOneSentence() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let good = try await S3ClientTests.freshBucket()
    let wrong = S3Client(
      bucket: good.bucket,
      configuration: S3Configuration(
        accessKeyID: service.s3AccessKeyID,
        secretAccessKey: SecretBytes(utf8: "not-the-secret-\(service.s3SecretAccessKey.prefix(4))"),
        endpoint: "http://127.0.0.1:\(service.port)"))
    let error = await #expect(throws: ObjectStoreError.self) { try await wrong.put("x", [1]) }
    #expect(
      error?.description
        == "http://127.0.0.1:\(service.port) refused the credentials from configuration (SignatureDoesNotMatch)."
    )
    #expect(error?.exitStatus == .noPermission)
    let unknown = S3Client(
      bucket: good.bucket,
      configuration: S3Configuration(
        accessKeyID: "AKIDNOTKNOWN", secretAccessKey: SecretBytes(utf8: "x"),
        endpoint: "http://127.0.0.1:\(service.port)"))
    let refused = await #expect(throws: ObjectStoreError.self) { try await unknown.check() }
    #expect(refused?.exitStatus == .noPermission)
    #expect(refused?.description.contains("refused the credentials") == true)
  }

  @Test func aTamperedRequestIsRefused() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let s3 = try await S3ClientTests.freshBucket()
    try await s3.put("kept.bin", [1, 2, 3])
    let credentials = try await s3.configuration.credentials.current()
    let genuine = s3.signedRequest(.get, key: "kept.bin", credentials: credentials)
    #expect(try await s3.send(genuine).status == 200)
    // The same signed headers, sent for another key: the signature covers the path.
    var tampered = genuine
    tampered.url = s3.url(key: "other.bin", query: [])
    let response = try await s3.send(tampered)
    #expect(response.status == 403)
    let error = s3.error(for: response, key: "other.bin", operation: "read")
    #expect(
      error.description
        == "http://127.0.0.1:\(service.port) refused the credentials from configuration (SignatureDoesNotMatch)."
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

/// Web identity against moto's STS: cached while fresh, replaced before expiry so that a
/// long upload never signs with expired keys.
@Suite("AWS web identity credentials against moto")
struct WebIdentityTests {
  static func identity(_ service: LocalService, duration: Int = 900) throws
    -> AWSCredentialProvider.WebIdentity
  {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-sts")
    try "token-from-the-cluster".write(
      toFile: directory + "/token", atomically: true, encoding: .utf8)
    return AWSCredentialProvider.WebIdentity(
      roleARN: service.s3RoleARN, tokenFile: directory + "/token", sessionName: "lockstep-test",
      stsEndpoint: "http://127.0.0.1:\(service.port)", durationSeconds: duration)
  }

  static func client(_ bucket: String, _ service: LocalService, _ provider: AWSCredentialProvider)
    -> S3Client
  {
    S3Client(
      bucket: bucket,
      configuration: S3Configuration(
        credentials: provider, endpoint: "http://127.0.0.1:\(service.port)"))
  }

  @Test func freshCredentialsAreCachedAndExpiringOnesReplaced() async throws {
    let service = try await SharedServices.shared.service(.s3)
    let bucket = try await S3ClientTests.freshBucket().bucket
    // 900 s credentials, replaced when less than 300 s are left: one exchange.
    let cached = AWSCredentialProvider(.webIdentity(try Self.identity(service)))
    let s3 = Self.client(bucket, service, cached)
    for index in 0..<3 { try await s3.put("cached/\(index)", [UInt8(index)]) }
    #expect(cached.exchangeCount == 1)
    // Replaced when less than 1000 s are left: every request of a long upload gets keys
    // that are not about to expire, and each new pair is accepted.
    let expiring = AWSCredentialProvider(
      .webIdentity(try Self.identity(service)), refreshMargin: .seconds(1000))
    let first = try await expiring.current()
    let second = try await expiring.current()
    #expect(first.accessKeyID != second.accessKeyID)
    let refreshing = Self.client(bucket, service, expiring)
    for index in 0..<3 { try await refreshing.put("refreshed/\(index)", [UInt8(index)]) }
    #expect(expiring.exchangeCount == 5)
    #expect(try await refreshing.list(prefix: "refreshed/").count == 3)
  }

  @Test func anUnreadableTokenFileIsOneSentence() async throws {
    let service = try await SharedServices.shared.service(.s3)
    var identity = try Self.identity(service)
    identity.tokenFile = "/nonexistent/token"
    let s3 = Self.client("any-bucket", service, AWSCredentialProvider(.webIdentity(identity)))
    let error = await #expect(throws: ObjectStoreError.self) { try await s3.check() }
    #expect(
      error?.description
        == "Cannot read the web identity token file /nonexistent/token (AWS_WEB_IDENTITY_TOKEN_FILE)."
    )
    #expect(error?.exitStatus == .usage)
  }
}
