import LockstepCore
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
    #expect(configuration.secretAccessKey == SecretBytes(utf8: "s3cr3t-value"))
    #expect(configuration.sessionToken == SecretBytes(utf8: "token-value"))
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
    #expect(emulator.accessToken == nil)
    let real = try GCSConfiguration.fromEnvironment(["GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.secret"])
    #expect(real.endpoint == "https://storage.googleapis.com")
    #expect(!"\(real)".contains("ya29"))
    #expect(throws: ObjectStoreError.self) { try GCSConfiguration.fromEnvironment([:]) }
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
