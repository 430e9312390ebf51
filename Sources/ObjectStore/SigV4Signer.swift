import Crypto
import Foundation
import LockstepCore

/// AWS Signature Version 4 over exactly the headers a request carries.
///
/// libcurl 7.88's `CURLOPT_AWS_SIGV4` signs every header in its list, including the
/// `Expect:` line that only tells libcurl *not* to send `Expect: 100-continue`; a server
/// that checks signatures then refuses every request. Signing here means the signed headers
/// are the ones handed to libcurl, which sends each of them unchanged.
/// - SeeAlso: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
public struct SigV4Signer: Sendable {
  public let accessKeyID: String
  let secretAccessKey: SecretBytes
  public let region: String
  public let service: String

  public init(accessKeyID: String, secretAccessKey: SecretBytes, region: String, service: String) {
    self.accessKeyID = accessKeyID
    self.secretAccessKey = secretAccessKey
    self.region = region
    self.service = service
  }

  /// What gets signed. `path` is the URI path exactly as sent (already percent-encoded);
  /// `query` holds decoded name/value pairs; `headers` every header to sign, `host` included.
  public struct Request: Sendable {
    public var method: String
    public var path: String
    public var query: [(String, String)]
    public var headers: [(String, String)]
    public var payloadHash: String

    public init(
      method: String, path: String, query: [(String, String)] = [],
      headers: [(String, String)], payloadHash: String
    ) {
      self.method = method
      self.path = path
      self.query = query
      self.headers = headers
      self.payloadHash = payloadHash
    }
  }

  /// `20150830T123600Z`, the form of `x-amz-date`.
  public static func timestamp(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
    return formatter.string(from: date)
  }

  /// Sorted by encoded name, then encoded value; both RFC 3986-encoded.
  public static func canonicalQuery(_ items: [(String, String)]) -> String {
    let encoded: [(name: String, value: String)] = items.map {
      (Percent.encode($0.0), Percent.encode($0.1))
    }
    let sorted = encoded.sorted { lhs, rhs in
      lhs.name == rhs.name ? lhs.value < rhs.value : lhs.name < rhs.name
    }
    return sorted.map { $0.name + "=" + $0.value }.joined(separator: "&")
  }

  /// Lower-case names, sorted; values trimmed with inner runs of spaces folded to one.
  static func canonicalHeaders(_ headers: [(String, String)]) -> [(String, String)] {
    var merged: [String: [String]] = [:]
    for (name, value) in headers {
      let folded = value.split(separator: " ", omittingEmptySubsequences: true)
        .joined(separator: " ").trimmingCharacters(in: .whitespaces)
      merged[name.lowercased(), default: []].append(folded)
    }
    return merged.keys.sorted().map { ($0, merged[$0]!.joined(separator: ",")) }
  }

  public func canonicalRequest(_ request: Request) -> String {
    let headers = Self.canonicalHeaders(request.headers)
    return [
      request.method,
      request.path.isEmpty ? "/" : request.path,
      Self.canonicalQuery(request.query),
      headers.map { "\($0.0):\($0.1)\n" }.joined(),
      headers.map(\.0).joined(separator: ";"),
      request.payloadHash,
    ].joined(separator: "\n")
  }

  func scope(_ timestamp: String) -> String {
    "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
  }

  public func stringToSign(_ request: Request, timestamp: String) -> String {
    [
      "AWS4-HMAC-SHA256", timestamp, scope(timestamp),
      Hex.encode(SHA256.hash(canonicalRequest(request))),
    ].joined(separator: "\n")
  }

  /// The signing key: HMAC chain from `AWS4` + secret over date, region, service.
  func signingKey(date: String) -> SecretBytes {
    var seed = Array("AWS4".utf8)
    secretAccessKey.withUnsafeBytes { seed.append(contentsOf: $0) }
    var key = SecretBytes(consuming: &seed)
    for part in [date, region, service, "aws4_request"] {
      var next = HMACSHA256.authenticate(Array(part.utf8), key: key)
      key = SecretBytes(consuming: &next)
    }
    return key
  }

  public func signature(_ request: Request, timestamp: String) -> String {
    let key = signingKey(date: String(timestamp.prefix(8)))
    return Hex.encode(
      HMACSHA256.authenticate(Array(stringToSign(request, timestamp: timestamp).utf8), key: key))
  }

  /// The `Authorization` header value. `request.headers` must already hold `x-amz-date`
  /// (or `date`) with `timestamp`.
  public func authorization(_ request: Request, timestamp: String) -> String {
    let signed = Self.canonicalHeaders(request.headers).map(\.0).joined(separator: ";")
    return
      "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope(timestamp)), SignedHeaders=\(signed), Signature=\(signature(request, timestamp: timestamp))"
  }
}
