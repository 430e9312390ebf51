import LockstepCore

public struct HTTPResponse: Sendable {
  public let status: Int
  /// Header fields in arrival order, names lower-cased.
  public let headers: [(name: String, value: String)]
  /// The body stays a `SecretBytes` because a Vault read carries secret values; callers
  /// parse it in place (`withUnsafeBytes`) rather than copying it into a `String`.
  public let body: SecretBytes
  /// How many new connections libcurl opened for this request: 0 when it reused one.
  public let newConnections: Int

  public init(
    status: Int, headers: [(name: String, value: String)], body: SecretBytes, newConnections: Int
  ) {
    self.status = status
    self.headers = headers
    self.body = body
    self.newConnections = newConnections
  }

  /// The last value of the header `name` (case-insensitive).
  public func header(_ name: String) -> String? {
    let lower = name.lowercased()
    return headers.last(where: { $0.name == lower })?.value
  }

  public var isSuccess: Bool { (200..<300).contains(status) }

  /// The body as text, for responses known to hold no secret (errors, listings, health).
  public var text: String {
    body.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
  }
}
