import Foundation
import LockstepCore

/// Where S3 is, how to address a bucket, and where credentials come from, read from the
/// variables and files the AWS CLI and SDKs read.
public struct S3Configuration: Sendable, CustomStringConvertible {
  public var credentials: AWSCredentialProvider
  public var region: String
  /// An S3-compatible endpoint (MinIO, moto, Ceph…) without a trailing slash; nil for AWS.
  public var endpoint: String?
  /// Path-style (`endpoint/bucket/key`) rather than virtual-hosted (`bucket.endpoint/key`)
  /// addressing. Default: path-style for a custom endpoint (every S3-compatible server
  /// supports it), virtual-hosted for AWS, and path-style for AWS buckets with a dot in
  /// their name (a dotted host name breaks the wildcard certificate).
  /// `AWS_S3_FORCE_PATH_STYLE=true|false` overrides.
  public var forcePathStyle: Bool?
  /// PEM bundle for a private CA (`AWS_CA_BUNDLE`).
  public var caFile: String?

  public init(
    credentials: AWSCredentialProvider, region: String = "us-east-1", endpoint: String? = nil,
    forcePathStyle: Bool? = nil, caFile: String? = nil
  ) {
    self.credentials = credentials
    self.region = region
    var trimmed = endpoint
    while trimmed?.hasSuffix("/") == true { trimmed?.removeLast() }
    self.endpoint = trimmed
    self.forcePathStyle = forcePathStyle
    self.caFile = caFile
  }

  /// Long-term (or fixed temporary) keys given directly.
  public init(
    accessKeyID: String, secretAccessKey: SecretBytes, sessionToken: SecretBytes? = nil,
    region: String = "us-east-1", endpoint: String? = nil, caFile: String? = nil
  ) {
    self.init(
      credentials: .fixed(
        AWSCredentials(
          accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken
        )),
      region: region, endpoint: endpoint, caFile: caFile)
  }

  /// Region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region` in the
  /// config file, else us-east-1. Endpoint: `AWS_ENDPOINT_URL_S3` else `AWS_ENDPOINT_URL`.
  /// Credentials: `AWSCredentialProvider.resolve` (the AWS CLI's order).
  public static func fromEnvironment(
    _ environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> S3Configuration {
    func value(_ name: String) -> String? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      return text
    }
    let region =
      value("AWS_REGION") ?? value("AWS_DEFAULT_REGION")
      ?? AWSCredentialProvider.profileRegion(environment) ?? "us-east-1"
    let caFile = value("AWS_CA_BUNDLE")
    var pathStyle: Bool?
    if let text = value("AWS_S3_FORCE_PATH_STYLE")?.lowercased() {
      switch text {
      case "true", "1", "yes": pathStyle = true
      case "false", "0", "no": pathStyle = false
      default:
        throw ObjectStoreError.missingCredentials(
          "AWS_S3_FORCE_PATH_STYLE must be true or false, not '\(text)'.")
      }
    }
    return S3Configuration(
      credentials: try AWSCredentialProvider.resolve(environment, region: region, caFile: caFile),
      region: region, endpoint: value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL"),
      forcePathStyle: pathStyle, caFile: caFile)
  }

  /// Whether `bucket` is addressed path-style.
  func usesPathStyle(_ bucket: String) -> Bool {
    if let forcePathStyle { return forcePathStyle }
    return endpoint != nil || bucket.contains(".")
  }

  /// The endpoint as messages show it.
  public var endpointDisplay: String {
    endpoint.map { Redaction.url($0) } ?? "S3 (\(region))"
  }

  /// Region, endpoint and the origin of the credentials; never a key.
  public var description: String {
    "S3Configuration(credentials: \(credentials.origin), region: \(region), endpoint: \(endpointDisplay))"
  }
}
