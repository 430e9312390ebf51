import Foundation
import LockstepCore

/// Where S3 is and how to sign, read from the variables the AWS CLI and SDKs read.
public struct S3Configuration: Sendable, CustomStringConvertible {
  public var accessKeyID: String
  public var secretAccessKey: SecretBytes
  public var sessionToken: SecretBytes?
  public var region: String
  /// An S3-compatible endpoint (MinIO, moto, Ceph…) without a trailing slash; nil for AWS.
  /// A custom endpoint is addressed path-style (`endpoint/bucket/key`), which every
  /// S3-compatible server supports; AWS is addressed virtual-hosted style.
  public var endpoint: String?
  /// PEM bundle for a private CA (`AWS_CA_BUNDLE`).
  public var caFile: String?

  public init(
    accessKeyID: String, secretAccessKey: SecretBytes, sessionToken: SecretBytes? = nil,
    region: String = "us-east-1", endpoint: String? = nil, caFile: String? = nil
  ) {
    self.accessKeyID = accessKeyID
    self.secretAccessKey = secretAccessKey
    self.sessionToken = sessionToken
    self.region = region
    var trimmed = endpoint
    while trimmed?.hasSuffix("/") == true { trimmed?.removeLast() }
    self.endpoint = trimmed
    self.caFile = caFile
  }

  /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` else
  /// `AWS_DEFAULT_REGION` (default us-east-1), `AWS_ENDPOINT_URL_S3` else
  /// `AWS_ENDPOINT_URL`, `AWS_CA_BUNDLE`.
  public static func fromEnvironment(
    _ environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> S3Configuration {
    func value(_ name: String) -> String? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      return text
    }
    guard let keyID = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY")
    else {
      throw ObjectStoreError.missingCredentials(
        "No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)."
      )
    }
    return S3Configuration(
      accessKeyID: keyID, secretAccessKey: SecretBytes(utf8: secret),
      sessionToken: value("AWS_SESSION_TOKEN").map { SecretBytes(utf8: $0) },
      region: value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1",
      endpoint: value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL"),
      caFile: value("AWS_CA_BUNDLE"))
  }

  /// The endpoint as messages show it.
  public var endpointDisplay: String {
    endpoint.map { Redaction.url($0) } ?? "S3 (\(region))"
  }

  /// Key id, region and endpoint; never the secret key or session token.
  public var description: String {
    "S3Configuration(accessKeyID: \(accessKeyID), region: \(region), endpoint: \(endpointDisplay))"
  }
}
