import Crypto
import Foundation
import HTTP
import LockstepCore
import Synchronization

/// The bearer token for Google Cloud Storage: a fixed one (`GOOGLE_OAUTH_ACCESS_TOKEN`), or
/// one obtained from a service-account key file (`GOOGLE_APPLICATION_CREDENTIALS`) by an
/// RS256-signed JWT exchanged at the key's `token_uri`, cached and replaced before it expires.
/// - SeeAlso: https://developers.google.com/identity/protocols/oauth2/service-account#httprest
public final class GCSTokenProvider: Sendable {
  public enum Source: Sendable {
    /// No token (an emulator).
    case none
    case fixed(SecretBytes, origin: String)
    case serviceAccount(ServiceAccountKey)
  }

  /// The fields of a service-account key file that the exchange needs.
  public struct ServiceAccountKey: Sendable {
    public let path: String
    public let clientEmail: String
    public let privateKeyID: String?
    public let privateKey: SecretBytes
    public let tokenURI: String

    /// Reads a key file as the Cloud console downloads it (`"type": "service_account"`).
    public static func load(path: String) throws -> ServiceAccountKey {
      guard let data = FileManager.default.contents(atPath: path) else {
        throw ObjectStoreError.missingCredentials(
          "Cannot read the service-account key file \(path) (GOOGLE_APPLICATION_CREDENTIALS).")
      }
      guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
        object["type"] as? String == "service_account",
        let email = object["client_email"] as? String,
        let key = object["private_key"] as? String
      else {
        throw ObjectStoreError.missingCredentials(
          "\(path) (GOOGLE_APPLICATION_CREDENTIALS) is not a service-account key file: it needs type service_account, client_email and private_key."
        )
      }
      return ServiceAccountKey(
        path: path, clientEmail: email, privateKeyID: object["private_key_id"] as? String,
        privateKey: SecretBytes(utf8: key),
        tokenURI: object["token_uri"] as? String ?? "https://oauth2.googleapis.com/token")
    }
  }

  /// What the token may do: read and write objects (list, get, insert, copy, delete).
  public static let scope = "https://www.googleapis.com/auth/devstorage.read_write"

  public let source: Source
  public let refreshMargin: Duration
  public let caFile: String?
  private let cached = Mutex<(token: SecretBytes, expiry: Date)?>(nil)
  private let exchanges = Mutex(0)

  public init(_ source: Source, refreshMargin: Duration = .seconds(300), caFile: String? = nil) {
    self.source = source
    self.refreshMargin = refreshMargin
    self.caFile = caFile
  }

  public var origin: String {
    switch source {
    case .none: "no credentials"
    case .fixed(_, let origin): origin
    case .serviceAccount(let key): "the service-account key \(key.path)"
    }
  }

  /// How many token exchanges this provider made.
  public var exchangeCount: Int { exchanges.withLock { $0 } }

  public func current() async throws -> SecretBytes? {
    switch source {
    case .none: return nil
    case .fixed(let token, _): return token
    case .serviceAccount(let key):
      let margin = Double(refreshMargin.components.seconds)
      if let cached = cached.withLock({ $0 }), cached.expiry.timeIntervalSinceNow > margin {
        return cached.token
      }
      let fresh = try await exchange(key)
      exchanges.withLock { $0 += 1 }
      cached.withLock { $0 = fresh }
      return fresh.token
    }
  }

  /// The signed assertion: `base64url(header).base64url(claims).base64url(RS256 signature)`.
  static func assertion(_ key: ServiceAccountKey, now: Date) throws -> String {
    var header: [String: String] = ["alg": "RS256", "typ": "JWT"]
    if let kid = key.privateKeyID { header["kid"] = kid }
    let issued = Int(now.timeIntervalSince1970)
    let claims: [String: Any] = [
      "iss": key.clientEmail, "scope": scope, "aud": key.tokenURI, "iat": issued,
      "exp": issued + 3600,
    ]
    let encodedHeader = base64URL(
      try JSONSerialization.data(withJSONObject: header, options: .sortedKeys))
    let encodedClaims = base64URL(
      try JSONSerialization.data(withJSONObject: claims, options: .sortedKeys))
    let input = encodedHeader + "." + encodedClaims
    let signature = try RSASigner(pem: key.privateKey).sign(Array(input.utf8))
    return input + "." + base64URL(Data(signature))
  }

  static func base64URL(_ data: Data) -> String {
    var text = data.base64EncodedString()
    text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    while text.hasSuffix("=") { text.removeLast() }
    return text
  }

  private func exchange(_ key: ServiceAccountKey) async throws -> (token: SecretBytes, expiry: Date)
  {
    let assertion: String
    do {
      assertion = try Self.assertion(key, now: Date())
    } catch let error as CryptoError {
      throw ObjectStoreError.missingCredentials(
        "The private key in \(key.path) cannot sign: \(error.description).")
    }
    let body =
      "grant_type=" + Percent.encode("urn:ietf:params:oauth:grant-type:jwt-bearer")
      + "&assertion=" + assertion
    let request = HTTPRequest(
      .post, key.tokenURI,
      headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")],
      body: .text(body))
    let pool = ObjectStores.pool(connections: 1, caFile: caFile)
    let response: HTTPResponse
    do {
      response = try await pool.send(request)
    } catch let error as HTTPError {
      throw ObjectStoreError.unreachable(endpoint: Redaction.url(key.tokenURI), cause: error)
    }
    let object = response.body.withUnsafeBytes {
      (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any]
    }
    guard response.isSuccess else {
      var detail = [object?["error"] as? String, object?["error_description"] as? String]
        .compactMap { $0 }.joined(separator: ": ")
      while detail.hasSuffix(".") { detail.removeLast() }
      throw ObjectStoreError.credentialsRefused(
        "The token endpoint \(Redaction.url(key.tokenURI)) refused the service-account key \(key.path) (\(detail.isEmpty ? "HTTP \(response.status)" : detail))."
      )
    }
    guard let token = object?["access_token"] as? String else {
      throw ObjectStoreError.invalidResponse(
        url: Redaction.url(key.tokenURI), detail: "no access_token in the answer")
    }
    let lifetime = (object?["expires_in"] as? Int) ?? 3600
    return (SecretBytes(utf8: token), Date().addingTimeInterval(Double(lifetime)))
  }
}
