import Foundation
import LockstepCore

/// Where Google Cloud Storage is and which bearer token to send.
///
/// A token comes from `GOOGLE_OAUTH_ACCESS_TOKEN` (what `gcloud auth print-access-token`
/// prints; the Terraform provider reads the same variable). `STORAGE_EMULATOR_HOST`, the
/// variable Google's client libraries honour, points at an emulator, which needs no token.
public struct GCSConfiguration: Sendable, CustomStringConvertible {
  /// Base URL without a trailing slash, e.g. `https://storage.googleapis.com`.
  public var endpoint: String
  public var accessToken: SecretBytes?
  public var caFile: String?

  public init(
    endpoint: String = "https://storage.googleapis.com", accessToken: SecretBytes? = nil,
    caFile: String? = nil
  ) {
    var trimmed = endpoint
    while trimmed.hasSuffix("/") { trimmed.removeLast() }
    self.endpoint = trimmed
    self.accessToken = accessToken
    self.caFile = caFile
  }

  public static func fromEnvironment(
    _ environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> GCSConfiguration {
    func value(_ name: String) -> String? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      return text
    }
    let token = value("GOOGLE_OAUTH_ACCESS_TOKEN").map { SecretBytes(utf8: $0) }
    if var emulator = value("STORAGE_EMULATOR_HOST") {
      if !emulator.contains("://") { emulator = "http://" + emulator }
      return GCSConfiguration(endpoint: emulator, accessToken: token)
    }
    guard let token else {
      throw ObjectStoreError.missingCredentials(
        "No Google Cloud Storage token: set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. from `gcloud auth print-access-token`), or STORAGE_EMULATOR_HOST for an emulator."
      )
    }
    return GCSConfiguration(accessToken: token, caFile: value("CURL_CA_BUNDLE"))
  }

  public var endpointDisplay: String { Redaction.url(endpoint) }

  public var description: String {
    "GCSConfiguration(endpoint: \(endpointDisplay), token: \(accessToken == nil ? "none" : "<redacted>"))"
  }
}
