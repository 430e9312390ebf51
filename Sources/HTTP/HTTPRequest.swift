import LockstepCore

/// One header of a request. A secret value (a Vault token, an API key) stays a
/// `SecretBytes` until the moment libcurl copies it, and libcurl's copy is wiped after the
/// transfer.
public struct HTTPHeader: Sendable {
  public enum Value: Sendable {
    case text(String)
    case secret(SecretBytes)
  }

  public let name: String
  public let value: Value

  public init(_ name: String, _ value: String) {
    self.name = name
    self.value = .text(value)
  }

  public init(_ name: String, secret: SecretBytes) {
    self.name = name
    self.value = .secret(secret)
  }
}

/// A request body. `.secret` lets a body holding secret values go to libcurl without ever
/// being a `String` or an un-wiped array.
public enum HTTPBody: Sendable {
  case empty
  case bytes([UInt8])
  case secret(SecretBytes)

  public static func text(_ string: String) -> HTTPBody { .bytes(Array(string.utf8)) }

  public var isEmpty: Bool {
    switch self {
    case .empty: true
    case .bytes(let bytes): bytes.isEmpty
    case .secret(let secret): secret.isEmpty
    }
  }

  func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    switch self {
    case .empty: try body(UnsafeRawBufferPointer(start: nil, count: 0))
    case .bytes(let bytes): try bytes.withUnsafeBytes(body)
    case .secret(let secret): try secret.withUnsafeBytes(body)
    }
  }
}

/// User name and password for HTTP authentication.
public struct HTTPCredentials: Sendable {
  public let user: String
  public let password: SecretBytes

  public init(user: String, password: SecretBytes) {
    self.user = user
    self.password = password
  }
}

public struct HTTPRequest: Sendable {
  public var method: HTTPMethod
  public var url: String
  /// Sent exactly as given, so that a signer (S3's SigV4 in ObjectStore) can sign them;
  /// libcurl's own `CURLOPT_AWS_SIGV4` is not used (7.88 signs header-list lines it never
  /// sends, such as the `Expect:` removal directive).
  public var headers: [HTTPHeader]
  public var body: HTTPBody
  /// Overrides the client's total timeout for this request.
  public var timeout: Duration?
  /// HTTP authentication (`CURLOPT_USERNAME`/`CURLOPT_PASSWORD`).
  public var credentials: HTTPCredentials?
  /// Takes a successful (2xx) response's body piece by piece as it arrives, on the thread
  /// performing the transfer, instead of the response holding it: a body of any size costs
  /// no memory, and the client's `maxResponseBytes` does not apply to it (error bodies are
  /// still held, within the limit). A consumer that throws stops the transfer with its
  /// error.
  public var consumer: (@Sendable (UnsafeRawBufferPointer) throws -> Void)?
  /// Stop a transfer that moves less than one byte a second for this long
  /// (`CURLOPT_LOW_SPEED_TIME`). Without a `timeout` of its own, the request then has no
  /// total timeout, so that a long download is bounded by progress, not by the client's
  /// per-request time.
  public var stallTimeout: Duration?

  public init(
    _ method: HTTPMethod, _ url: String, headers: [HTTPHeader] = [], body: HTTPBody = .empty,
    timeout: Duration? = nil
  ) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
    self.timeout = timeout
  }
}
