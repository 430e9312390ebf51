import Foundation
import HTTP
import LockstepCore
import Synchronization

/// The one client for Vault's HTTP API (KV v1/v2, auth, a few `sys` endpoints).
///
/// Every call is `async` and runs its blocking libcurl transfer on a dedicated thread of
/// the client's `HTTPClientPool`, never on Swift's cooperative pool; the pool's threads each
/// keep one connection alive, which is what lets `walk` run at the server's speed.
/// Callers pass `mount/path`; whether the mount is KV v1 or v2 is detected once per mount
/// and `data/`/`metadata/` are inserted here.
public final class VaultClient: Sendable {
  public let configuration: VaultConfiguration
  let pool: HTTPClientPool
  let mounts = Mutex<[String: VaultMount]>([:])
  /// The token of a configured login (VaultClient+Login.swift).
  let session = VaultSession()

  public init(configuration: VaultConfiguration) {
    self.configuration = configuration
    pool = HTTPClientPool(
      size: max(1, configuration.parallelism), settings: configuration.httpSettings)
  }

  /// A client configured from `VAULT_*` variables and `~/.vault-token`.
  public static func fromEnvironment() throws -> VaultClient {
    VaultClient(configuration: try VaultConfiguration.fromEnvironment())
  }

  /// The same server and settings with another token (after a login, or in tests).
  public func with(token: SecretBytes) -> VaultClient {
    var settings = configuration
    settings.token = token
    settings.login = nil
    return VaultClient(configuration: settings)
  }

  // MARK: - The request funnel

  /// One API call as the funnel sees it.
  struct Call {
    var method: HTTPMethod
    /// Below `/v1/`, e.g. `secret/data/app`.
    var path: String
    var query: String?
    var body: HTTPBody = .empty
    var contentType: String?
    var authenticated = true
    /// This token instead of the client's (renewing the session's token).
    var token: SecretBytes?
    /// The verb a policy would need, for "permission denied" sentences.
    var capability: String
    /// Takes a 2xx body as it arrives (`HTTPRequest.consumer`); such a call is not retried
    /// after a transport failure, since part of the body may already be consumed.
    var consumer: (@Sendable (UnsafeRawBufferPointer) throws -> Void)?
    /// Replaces the total timeout with a stall timeout (a long download).
    var stallTimeout: Duration?

    init(
      _ method: HTTPMethod, _ path: String, query: String? = nil, body: HTTPBody = .empty,
      contentType: String? = nil, authenticated: Bool = true, capability: String? = nil
    ) {
      self.method = method
      self.path = path
      self.query = query
      self.body = body
      self.contentType = contentType
      self.authenticated = authenticated
      self.capability = capability ?? Self.capability(for: method)
    }

    static func capability(for method: HTTPMethod) -> String {
      switch method {
      case .get, .head: "read"
      case .list: "list"
      case .delete: "delete"
      case .patch: "patch"
      default: "update"
      }
    }
  }

  /// Runs `body` on one of the pool's threads with its HTTP client.
  func onPool<T: Sendable>(_ body: @escaping @Sendable (HTTPClient) throws -> T) async throws
    -> T
  {
    try await pool.run(body)
  }

  /// Sends `call`, retrying 429, 5xx (but not a sealed 503) and connection failures with
  /// exponential backoff and full jitter, at most `maxRetries` times and never past
  /// `retryDeadline`; returns whatever status
  /// came last. Transport failures become `VaultError.unreachable`.
  func send(_ client: HTTPClient, _ call: Call) throws -> HTTPResponse {
    var headers: [HTTPHeader] = []
    if call.authenticated {
      let token = try call.token ?? currentToken(client)
      headers.append(HTTPHeader("X-Vault-Token", secret: token))
    }
    if let namespace = configuration.namespace {
      headers.append(HTTPHeader("X-Vault-Namespace", namespace))
    }
    if let contentType = call.contentType {
      headers.append(HTTPHeader("Content-Type", contentType))
    } else if !call.body.isEmpty {
      headers.append(HTTPHeader("Content-Type", "application/json"))
    }
    // Validated and percent-encoded segment by segment; libcurl sends it as is.
    var url = configuration.address + "/v1/" + (try VaultPath.escaped(call.path))
    if let query = call.query { url += "?" + query }
    var request = HTTPRequest(call.method, url, headers: headers, body: call.body)
    request.consumer = call.consumer
    request.stallTimeout = call.stallTimeout

    let clock = ContinuousClock()
    let deadline = clock.now + configuration.retryDeadline
    var attempt = 0
    while true {
      attempt += 1
      let delay = Self.backoff(attempt: attempt)
      let mayRetry = attempt <= configuration.maxRetries && clock.now + delay < deadline
      do {
        let response = try client.send(request)
        guard Self.isRetriable(response), mayRetry else { return response }
        Thread.sleep(forTimeInterval: Self.retryAfter(response) ?? delay.inSeconds)
      } catch let error as HTTPError {
        guard error.isTransient, mayRetry, call.consumer == nil else {
          throw VaultError.unreachable(address: configuration.address, cause: error)
        }
        Thread.sleep(forTimeInterval: delay.inSeconds)
      }
    }
  }

  /// Sends `call` and throws the one-sentence error for any non-2xx answer.
  @discardableResult
  func perform(_ client: HTTPClient, _ call: Call, displayPath: String? = nil) throws
    -> HTTPResponse
  {
    let response = try send(client, call)
    if response.isSuccess { return response }
    throw try error(for: response, call, client: client, displayPath: displayPath)
  }

  /// The one place a Vault status becomes a `VaultError`.
  func error(
    for response: HTTPResponse, _ call: Call, client: HTTPClient, displayPath: String?
  ) throws -> VaultError {
    let errors = Self.errors(in: response)
    let shownPath = displayPath ?? call.path
    switch response.status {
    case 400:
      if errors.contains(where: { $0.contains("check-and-set parameter did not match") }) {
        return .casMismatch(path: shownPath, expected: -1, errors: errors)
      }
      if errors.contains(where: { $0.contains("check-and-set parameter required") }) {
        return .casRequired(path: shownPath)
      }
      return .server(status: 400, path: shownPath, errors: errors)
    case 403:
      // Vault answers 403 both for a bad token and for a policy that lacks the capability;
      // lookup-self tells them apart (every valid token may look itself up).
      if call.authenticated && call.path != "auth/token/lookup-self" {
        let lookup = try send(client, Call(.get, "auth/token/lookup-self"))
        if lookup.status == 403 || lookup.status == 401 { return .badToken(errors: errors) }
      } else if call.authenticated {
        return .badToken(errors: errors)
      }
      return .permissionDenied(path: call.path, capability: call.capability, errors: errors)
    case 404:
      return .notFound(path: shownPath)
    case 503 where Self.isSealed(errors):
      return .sealed(address: configuration.address)
    default:
      return .server(status: response.status, path: shownPath, errors: errors)
    }
  }

  // MARK: - Helpers

  static func errors(in response: HTTPResponse) -> [String] {
    response.body.withUnsafeBytes { bytes in
      guard let root = try? JSONParser.parse(bytes) else { return [] }
      return (root["errors"]?.strings(in: bytes) ?? []).flatMap(Self.flatten)
    }
  }

  /// Vault wraps some errors as "1 error occurred:\n\t* permission denied\n\n"; the items
  /// are what a user needs.
  static func flatten(_ error: String) -> [String] {
    let lines = error.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    guard let first = lines.first, first.hasSuffix("occurred:") else { return [error] }
    return lines.dropFirst().filter { $0.hasPrefix("* ") }.map { String($0.dropFirst(2)) }
  }

  static func isSealed(_ errors: [String]) -> Bool {
    errors.contains { $0.lowercased().contains("sealed") }
  }

  static func isRetriable(_ response: HTTPResponse) -> Bool {
    if response.status == 429 { return true }
    guard (500...599).contains(response.status), response.status != 501 else { return false }
    return !(response.status == 503 && isSealed(errors(in: response)))
  }

  static func backoff(attempt: Int) -> Duration {
    let cap = min(2.0, 0.05 * pow(2.0, Double(attempt - 1)))
    return .milliseconds(Int(Double.random(in: 0...cap) * 1000))
  }

  static func retryAfter(_ response: HTTPResponse) -> Double? {
    response.header("retry-after").flatMap(Double.init).map { min($0, 5) }
  }

}
