import Foundation
import LockstepCore

/// Where Google Cloud Storage is and where its bearer token comes from.
///
/// Token sources, in order: `GOOGLE_OAUTH_ACCESS_TOKEN` (what `gcloud auth
/// print-access-token` prints; the Terraform provider reads the same variable), then a
/// service-account key file named by `GOOGLE_APPLICATION_CREDENTIALS` (exchanged for
/// short-lived tokens, refreshed before they expire). `STORAGE_EMULATOR_HOST`, the variable
/// Google's client libraries honour, points at an emulator, which needs no token.
public struct GCSConfiguration: Sendable, CustomStringConvertible {
  /// Base URL without a trailing slash, e.g. `https://storage.googleapis.com`.
  public var endpoint: String
  public var token: GCSTokenProvider
  public var caFile: String?

  public init(
    endpoint: String = "https://storage.googleapis.com", token: GCSTokenProvider,
    caFile: String? = nil
  ) {
    var trimmed = endpoint
    while trimmed.hasSuffix("/") { trimmed.removeLast() }
    self.endpoint = trimmed
    self.token = token
    self.caFile = caFile
  }

  public init(
    endpoint: String = "https://storage.googleapis.com", accessToken: SecretBytes? = nil,
    caFile: String? = nil
  ) {
    self.init(
      endpoint: endpoint,
      token: GCSTokenProvider(
        accessToken.map { .fixed($0, origin: "GOOGLE_OAUTH_ACCESS_TOKEN") } ?? .none),
      caFile: caFile)
  }

  public static func fromEnvironment(
    _ environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> GCSConfiguration {
    func value(_ name: String) -> String? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      return text
    }
    let caFile = value("CURL_CA_BUNDLE")
    var source: GCSTokenProvider.Source = .none
    if let token = value("GOOGLE_OAUTH_ACCESS_TOKEN") {
      source = .fixed(SecretBytes(utf8: token), origin: "GOOGLE_OAUTH_ACCESS_TOKEN")
    } else if let path = value("GOOGLE_APPLICATION_CREDENTIALS") {
      source = .serviceAccount(try GCSTokenProvider.ServiceAccountKey.load(path: path))
    }
    if var emulator = value("STORAGE_EMULATOR_HOST") {
      if !emulator.contains("://") { emulator = "http://" + emulator }
      return GCSConfiguration(
        endpoint: emulator, token: GCSTokenProvider(source, caFile: caFile), caFile: caFile)
    }
    if case .none = source {
      throw ObjectStoreError.missingCredentials(
        "No Google Cloud Storage credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or GOOGLE_OAUTH_ACCESS_TOKEN (e.g. from `gcloud auth print-access-token`), or STORAGE_EMULATOR_HOST for an emulator."
      )
    }
    return GCSConfiguration(
      token: GCSTokenProvider(source, caFile: caFile), caFile: caFile)
  }

  public var credentialOrigin: String { token.origin }

  public var endpointDisplay: String { Redaction.url(endpoint) }

  public var description: String {
    "GCSConfiguration(endpoint: \(endpointDisplay), token: \(token.origin))"
  }
}
