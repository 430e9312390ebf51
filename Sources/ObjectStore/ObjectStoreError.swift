import HTTP
import LockstepCore

/// What went wrong talking to a bucket, as the one sentence a user can act on. Never holds
/// a secret key or a session token; the store's own error code and message are quoted.
public enum ObjectStoreError: LockstepError, Equatable {
  case invalidURL(String)
  case missingCredentials(String)
  case accessDenied(url: String, operation: String, detail: String)
  /// `origin` says where the refused credentials came from (the environment, a profile,
  /// web identity, a service-account key), so the sentence points at what to fix.
  case badCredentials(endpoint: String, code: String, origin: String)
  /// A token exchange (STS, Google's OAuth endpoint) refused; the sentence is complete.
  case credentialsRefused(String)
  case noSuchBucket(String)
  case noSuchKey(String)
  case unreachable(endpoint: String, cause: HTTPError)
  case server(status: Int, url: String, detail: String)
  case invalidResponse(url: String, detail: String)
  /// A conditional write found an object already there; nothing was overwritten.
  case alreadyExists(String)
  /// The store cannot do what was asked (a complete sentence).
  case unsupported(String)

  public var description: String {
    switch self {
    case .invalidURL(let text):
      "'\(Redaction.url(text))' is not an object-store URL (expected s3://bucket/prefix or gs://bucket/prefix)."
    case .missingCredentials(let sentence):
      sentence
    case .accessDenied(let url, let operation, let detail):
      "Access denied: the credentials may not \(operation) \(url)\(Self.quote(detail))."
    case .badCredentials(let endpoint, let code, let origin):
      "\(endpoint) refused the credentials from \(origin) (\(code))."
    case .credentialsRefused(let sentence):
      sentence
    case .noSuchBucket(let bucket):
      "The bucket \(bucket) does not exist."
    case .noSuchKey(let url):
      "No object at \(url)."
    case .unreachable(let endpoint, let cause):
      "Cannot reach the object store at \(endpoint): \(cause.description)"
    case .server(let status, let url, let detail):
      "The object store answered \(status) for \(url)\(Self.quote(detail))."
    case .invalidResponse(let url, let detail):
      "The object store's answer for \(url) could not be understood: \(detail)."
    case .alreadyExists(let url):
      "An object already exists at \(url); it was not overwritten."
    case .unsupported(let sentence):
      sentence + "."
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .invalidURL, .missingCredentials, .unsupported: .usage
    case .accessDenied, .badCredentials, .credentialsRefused: .noPermission
    case .noSuchBucket, .noSuchKey, .server, .invalidResponse, .alreadyExists: .failure
    case .unreachable: .unavailable
    }
  }

  private static func quote(_ detail: String) -> String {
    detail.isEmpty ? "" : " (\(detail))"
  }
}
