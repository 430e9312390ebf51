import LockstepCore

/// Why a request got no HTTP response. Each `description` is the one sentence a user sees;
/// URLs in it are redacted and never carry a query string.
public enum HTTPError: LockstepError, Equatable {
  case invalidURL(String)
  case couldNotResolve(host: String)
  case connectionRefused(host: String, port: Int)
  case couldNotConnect(host: String, port: Int, detail: String)
  case timedOut(host: String, port: Int, seconds: Double)
  case tls(host: String, port: Int, detail: String)
  case connectionLost(host: String, port: Int, detail: String)
  case transfer(host: String, port: Int, detail: String)
  case setup(String)
  /// The answer was larger than the client's cap (`HTTPClient.Settings.maxResponseBytes`).
  case responseTooLarge(host: String, port: Int, limit: Int)

  public var description: String {
    switch self {
    case .invalidURL(let url):
      "The URL \(Redaction.url(url)) is not valid."
    case .couldNotResolve(let host):
      "Could not resolve the host name \(host)."
    case .connectionRefused(let host, let port):
      "Connection refused by \(host):\(port): is the server running?"
    case .couldNotConnect(let host, let port, let detail):
      "Could not connect to \(host):\(port): \(detail)."
    case .timedOut(let host, let port, let seconds):
      "The request to \(host):\(port) timed out after \(Self.format(seconds)) seconds."
    case .tls(let host, let port, let detail):
      "TLS failure talking to \(host):\(port): \(detail)."
    case .connectionLost(let host, let port, let detail):
      "The connection to \(host):\(port) failed mid-request: \(detail)."
    case .transfer(let host, let port, let detail):
      "The request to \(host):\(port) failed: \(detail)."
    case .setup(let detail):
      "Could not set up an HTTP request: \(detail)."
    case .responseTooLarge(let host, let port, let limit):
      "The answer from \(host):\(port) is larger than \(limit / 1_048_576) MiB and was refused unread (LOCKSTEP_MAX_RESPONSE_MIB raises the cap)."
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .invalidURL, .setup: .usage
    case .responseTooLarge: .dataError
    case .tls: .noPermission
    default: .unavailable
    }
  }

  /// Whether a retry could succeed: the server may come back (refused, lost, timed out).
  /// TLS and name failures need the user's attention.
  public var isTransient: Bool {
    switch self {
    case .connectionRefused, .couldNotConnect, .timedOut, .connectionLost: true
    default: false
    }
  }

  private static func format(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
  }
}
