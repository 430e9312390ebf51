import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import ObjectStore

@Suite("Object-store URLs and configuration")
struct ObjectStoreConfigurationTests {
  @Test func parsesS3AndGSURLs() throws {
    let s3 = try ObjectLocation(parsing: "s3://my-bucket/backups/vault/")
    #expect(s3 == ObjectLocation(scheme: .s3, bucket: "my-bucket", prefix: "backups/vault/"))
    #expect(s3.key("a.lsb") == "backups/vault/a.lsb")
    #expect(s3.url(key: s3.key("a.lsb")) == "s3://my-bucket/backups/vault/a.lsb")
    #expect(try ObjectLocation(parsing: "gs://bkt") == ObjectLocation(scheme: .gs, bucket: "bkt"))
    #expect(try ObjectLocation(parsing: "s3://bkt//x").prefix == "x")
    for bad in ["s3://", "s3://ab", "s3://Upper/x", "http://bkt/x", "/tmp/dir", "s3://-bad/x"] {
      #expect(throws: ObjectStoreError.invalidURL(bad)) { try ObjectLocation(parsing: bad) }
    }
    #expect(ObjectLocation.isObjectURL("gs://x/y"))
    #expect(!ObjectLocation.isObjectURL("./backups"))
  }

  @Test func readsTheStandardAWSVariables() throws {
    let configuration = try S3Configuration.fromEnvironment([
      "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value",
      "AWS_SESSION_TOKEN": "token-value", "AWS_DEFAULT_REGION": "eu-west-1",
      "AWS_ENDPOINT_URL": "http://127.0.0.1:9000/",
    ])
    #expect(configuration.region == "eu-west-1")
    #expect(configuration.endpoint == "http://127.0.0.1:9000")
    let credentials = try #require(Self.fixed(configuration))
    #expect(credentials.accessKeyID == "AKID")
    #expect(credentials.secretAccessKey == SecretBytes(utf8: "s3cr3t-value"))
    #expect(credentials.sessionToken == SecretBytes(utf8: "token-value"))
    #expect(configuration.credentials.origin == "the environment (AWS_ACCESS_KEY_ID)")
    #expect(!"\(configuration)".contains("s3cr3t"))
    #expect(!"\(configuration)".contains("token-value"))

    let specific = try S3Configuration.fromEnvironment([
      "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-west-2",
      "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://a",
      "AWS_ENDPOINT_URL_S3": "http://b",
    ])
    #expect(specific.region == "us-west-2")
    #expect(specific.endpoint == "http://b")
    #expect(
      try S3Configuration.fromEnvironment(["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"])
        .region == "us-east-1")

    let error = #expect(throws: ObjectStoreError.self) {
      try S3Configuration.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKID"])
    }
    #expect(error?.exitStatus == .usage)
  }

  @Test func addressesAWSVirtualHostedAndCustomEndpointsPathStyle() {
    let aws = S3Client(
      bucket: "bkt",
      configuration: S3Configuration(
        accessKeyID: "A", secretAccessKey: SecretBytes(utf8: "B"), region: "eu-central-1"))
    #expect(
      aws.url(key: "dir/a b", query: [])
        == "https://bkt.s3.eu-central-1.amazonaws.com/dir/a%20b")
    let custom = S3Client(
      bucket: "bkt",
      configuration: S3Configuration(
        accessKeyID: "A", secretAccessKey: SecretBytes(utf8: "B"), endpoint: "http://h:9000"))
    // Canonical query: sorted, every reserved character encoded (SigV4 signs it as sent).
    #expect(
      custom.url(key: nil, query: [("prefix", "a/b c"), ("list-type", "2")])
        == "http://h:9000/bkt/?list-type=2&prefix=a%2Fb%20c")
  }

  @Test func gcsConfigurationPrefersTheEmulator() throws {
    let emulator = try GCSConfiguration.fromEnvironment(["STORAGE_EMULATOR_HOST": "127.0.0.1:4443"])
    #expect(emulator.endpoint == "http://127.0.0.1:4443")
    #expect(emulator.credentialOrigin == "no credentials")
    let real = try GCSConfiguration.fromEnvironment(["GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.secret"])
    #expect(real.endpoint == "https://storage.googleapis.com")
    #expect(!"\(real)".contains("ya29"))
    #expect(throws: ObjectStoreError.self) { try GCSConfiguration.fromEnvironment([:]) }
  }

  static func fixed(_ configuration: S3Configuration) -> AWSCredentials? {
    if case .fixed(let credentials, _) = configuration.credentials.source { return credentials }
    return nil
  }

  /// Issue 17 item 4: `s3://bucket/vault` is the folder `vault/`, never a string prefix.
  @Test func prefixesArePathSegmentExact() throws {
    for text in ["s3://bkt/vault", "s3://bkt/vault/", "s3://bkt/vault//"] {
      let location = try ObjectLocation(parsing: text)
      #expect(location.folder == "vault/", "\(text)")
      #expect(location.key("lockstep-backup-x.lsb") == "vault/lockstep-backup-x.lsb")
    }
    #expect(try ObjectLocation(parsing: "s3://bkt").folder == "")
    #expect(try ObjectLocation(parsing: "s3://bkt/").key("a") == "a")
    #expect(try ObjectLocation(parsing: "gs://bkt/a/b").folder == "a/b/")
  }

  @Test func addressingStyleFollowsTheEndpointAndTheSwitch() throws {
    func client(_ environment: [String: String], bucket: String = "bkt") throws -> S3Client {
      var full = environment
      full["AWS_ACCESS_KEY_ID"] = "A"
      full["AWS_SECRET_ACCESS_KEY"] = "B"
      return S3Client(bucket: bucket, configuration: try S3Configuration.fromEnvironment(full))
    }
    #expect(try client([:]).url(key: "k", query: []) == "https://bkt.s3.us-east-1.amazonaws.com/k")
    #expect(
      try client(["AWS_S3_FORCE_PATH_STYLE": "true"]).url(key: "k", query: [])
        == "https://s3.us-east-1.amazonaws.com/bkt/k")
    #expect(
      try client([:], bucket: "my.dotted.bucket").url(key: "k", query: [])
        == "https://s3.us-east-1.amazonaws.com/my.dotted.bucket/k")
    #expect(
      try client(["AWS_ENDPOINT_URL": "http://127.0.0.1:9000"]).url(key: "k", query: [])
        == "http://127.0.0.1:9000/bkt/k")
    let virtual = try client([
      "AWS_ENDPOINT_URL": "http://minio.local:9000", "AWS_S3_FORCE_PATH_STYLE": "false",
    ])
    #expect(virtual.address(key: "k", query: []).host == "bkt.minio.local:9000")
    #expect(virtual.url(key: "k", query: []) == "http://bkt.minio.local:9000/k")
    let ipv6 = try client(["AWS_ENDPOINT_URL": "http://[::1]:9000"]).address(key: "k", query: [])
    #expect(ipv6.host == "[::1]:9000")
    #expect(ipv6.url == "http://[::1]:9000/bkt/k")
    let error = #expect(throws: ObjectStoreError.self) {
      try client(["AWS_S3_FORCE_PATH_STYLE": "maybe"])
    }
    #expect(error?.exitStatus == .usage)
  }

  /// The AWS CLI's order: environment, then web identity, then the shared files.
  @Test func credentialChainFollowsTheAWSCLIOrder() throws {
    let home = try TemporaryDirectory.make(prefix: "lockstep-aws-home")
    try FileManager.default.createDirectory(
      atPath: home + "/.aws", withIntermediateDirectories: true)
    try """
    [default]
    aws_access_key_id = AKIDDEFAULT
    aws_secret_access_key = default-secret

    # a comment
    [backup]
    aws_access_key_id=AKIDBACKUP
    aws_secret_access_key = backup-secret
    aws_session_token = backup-token
    """.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
    try """
    [default]
    region = eu-north-1
    [profile backup]
    region = ap-south-1
    [profile configonly]
    aws_access_key_id = AKIDCONFIG
    aws_secret_access_key = config-secret
    [profile eks]
    role_arn = arn:aws:iam::123456789012:role/from-profile
    web_identity_token_file = /var/run/token
    """.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
    let base = ["HOME": home]
    func resolve(_ extra: [String: String]) throws -> S3Configuration {
      try S3Configuration.fromEnvironment(base.merging(extra) { _, new in new })
    }
    // Shared files: default profile, then AWS_PROFILE; region from the config file.
    let byDefault = try resolve([:])
    #expect(Self.fixed(byDefault)?.accessKeyID == "AKIDDEFAULT")
    #expect(byDefault.region == "eu-north-1")
    let backup = try resolve(["AWS_PROFILE": "backup"])
    #expect(Self.fixed(backup)?.accessKeyID == "AKIDBACKUP")
    #expect(Self.fixed(backup)?.sessionToken == SecretBytes(utf8: "backup-token"))
    #expect(backup.region == "ap-south-1")
    #expect(
      try resolve(["AWS_PROFILE": "backup", "AWS_REGION": "us-west-1"]).region == "us-west-1")
    #expect(Self.fixed(try resolve(["AWS_PROFILE": "configonly"]))?.accessKeyID == "AKIDCONFIG")
    if case .webIdentity(let identity) = try resolve(["AWS_PROFILE": "eks"]).credentials.source {
      #expect(identity.roleARN == "arn:aws:iam::123456789012:role/from-profile")
      #expect(identity.tokenFile == "/var/run/token")
    } else {
      Issue.record("profile eks should use web identity")
    }
    let missing = #expect(throws: ObjectStoreError.self) {
      try resolve(["AWS_PROFILE": "nope"])
    }
    #expect(missing?.description.contains("The AWS profile nope (AWS_PROFILE)") == true)
    // Web identity beats the shared files; the environment beats both.
    let webIdentity = [
      "AWS_WEB_IDENTITY_TOKEN_FILE": "/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
    ]
    let chosen = try resolve(webIdentity)
    #expect(chosen.credentials.origin == "web identity for arn:aws:iam::1:role/r")
    let environment = try resolve(
      webIdentity.merging(["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e"]) {
        _, new in new
      })
    #expect(Self.fixed(environment)?.accessKeyID == "AKIDENV")
    // Nothing anywhere: one sentence naming the sources.
    let none = #expect(throws: ObjectStoreError.self) {
      try S3Configuration.fromEnvironment(["HOME": home + "/nowhere"])
    }
    #expect(none?.description.hasPrefix("No S3 credentials: set AWS_ACCESS_KEY_ID") == true)
    #expect(none?.exitStatus == .usage)
  }

  @Test func xmlScannerDecodesEntities() {
    let scanner = XMLScanner(
      text:
        "<R><Contents><Key>a&amp;b&lt;&#x41;&#66;</Key></Contents><Contents><Key>c</Key></Contents></R>"
    )
    #expect(scanner.blocks("Contents").count == 2)
    #expect(scanner.values("Key") == ["a&b<AB", "c"])
  }
}
