import Crypto
import Foundation
import HTTP
import LockstepCore

/// An S3 (or S3-compatible) bucket, every request signed with SigV4 by `SigV4Signer` over
/// exactly the headers sent.
///
/// Every request carries the SHA-256 of its body (`x-amz-content-sha256`; real S3 refuses a
/// request without it); queries are sent in canonical form (sorted, RFC 3986), the form
/// that is signed.
public final class S3Client: ObjectStore {
  public let configuration: S3Configuration
  public let bucket: String
  private let pool: HTTPClientPool

  public init(bucket: String, configuration: S3Configuration, connections: Int = 4) {
    self.bucket = bucket
    self.configuration = configuration
    pool = ObjectStores.pool(connections: connections, caFile: configuration.caFile)
  }

  public var bucketURL: String { "s3://\(bucket)" }

  static let emptyHash = Hex.encode(SHA256.hash([UInt8]()))

  // MARK: - Objects

  public func put(_ key: String, _ bytes: [UInt8]) async throws {
    let response = try await send(
      .put, key: key, body: bytes,
      headers: [HTTPHeader("Content-Type", "application/octet-stream")])
    try expectSuccess(response, key: key, operation: "write")
  }

  public func get(_ key: String) async throws -> [UInt8] {
    let response = try await send(.get, key: key)
    try expectSuccess(response, key: key, operation: "read")
    return response.body.unsafeArray()
  }

  public func head(_ key: String) async throws -> ObjectInfo? {
    let response = try await send(.head, key: key)
    if response.status == 404 {
      // HEAD has no body to say which is missing; a missing bucket is the user's mistake,
      // a missing object an expected answer.
      if try await !bucketExists() { throw ObjectStoreError.noSuchBucket(bucket) }
      return nil
    }
    try expectSuccess(response, key: key, operation: "read")
    return ObjectInfo(
      key: key, size: Int(response.header("content-length") ?? "") ?? 0,
      lastModified: response.header("last-modified").flatMap(Self.parseHTTPDate),
      etag: response.header("etag"))
  }

  public func list(prefix: String) async throws -> [ObjectInfo] {
    try await list(prefix: prefix, pageSize: nil)
  }

  /// `pageSize` lets a test exercise continuation without writing 1,000 objects.
  func list(prefix: String, pageSize: Int?) async throws -> [ObjectInfo] {
    var objects: [ObjectInfo] = []
    var token: String?
    repeat {
      var query = [("list-type", "2"), ("prefix", prefix)]
      if let pageSize { query.append(("max-keys", String(pageSize))) }
      if let token { query.append(("continuation-token", token)) }
      let response = try await send(.get, key: nil, query: query)
      try expectSuccess(response, key: nil, operation: "list")
      let scanner = XMLScanner(text: response.text)
      for block in scanner.blocks("Contents") {
        let entry = XMLScanner(text: block)
        guard let key = entry.value("Key") else { continue }
        objects.append(
          ObjectInfo(
            key: key, size: Int(entry.value("Size") ?? "") ?? 0,
            lastModified: entry.value("LastModified").flatMap(Self.parseISODate),
            etag: entry.value("ETag")))
      }
      let truncated = scanner.value("IsTruncated")?.lowercased() == "true"
      token = truncated ? scanner.value("NextContinuationToken") : nil
      if truncated && token == nil {
        throw ObjectStoreError.invalidResponse(
          url: bucketURL, detail: "a truncated listing without a continuation token")
      }
    } while token != nil
    return objects.sorted { $0.key < $1.key }
  }

  public func delete(_ key: String) async throws {
    let response = try await send(.delete, key: key)
    if response.status == 404 && Self.errorCode(response) == "NoSuchKey" { return }
    try expectSuccess(response, key: key, operation: "delete")
  }

  public func copy(from source: String, to destination: String) async throws {
    let copySource = "/" + bucket + "/" + Percent.encode(source, keepingSlash: true)
    let response = try await send(
      .put, key: destination, headers: [HTTPHeader("x-amz-copy-source", copySource)])
    try expectSuccess(response, key: destination, operation: "write")
    // S3 may answer 200 with an error document when a copy fails part-way.
    if XMLScanner(text: response.text).value("Code") != nil {
      throw error(for: response, key: destination, operation: "copy to")
    }
  }

  // MARK: - Checks

  /// HEAD on the bucket: proves the endpoint answers, the signature is accepted and the
  /// credentials reach the bucket, without needing `s3:ListAllMyBuckets`.
  public func check() async throws -> String {
    let response = try await send(.head, key: nil)
    if response.isSuccess {
      return "\(bucketURL) at \(configuration.endpointDisplay) answers; credentials accepted."
    }
    // HEAD answers carry no error document: ask again with a listing to learn why.
    let listing = try await send(.get, key: nil, query: [("list-type", "2"), ("max-keys", "1")])
    try expectSuccess(listing, key: nil, operation: "list")
    throw error(for: response, key: nil, operation: "list")
  }

  func bucketExists() async throws -> Bool {
    let response = try await send(.head, key: nil)
    return response.status != 404
  }

  // MARK: - The request funnel

  /// The request's URL and the `Host` it is signed for: path-style
  /// (`endpoint/bucket/key`) or virtual-hosted (`bucket.endpoint/key`), see
  /// `S3Configuration.forcePathStyle`.
  func address(key: String?, query: [(String, String)]) -> (url: String, host: String, path: String)
  {
    let base = configuration.endpoint ?? "https://s3.\(configuration.region).amazonaws.com"
    let components = URLComponents(string: base)
    let scheme = components?.scheme ?? "https"
    var host = components?.host ?? base
    // An IPv6 literal keeps its brackets in `Host` (RFC 7230 §5.4).
    if host.contains(":") && !host.hasPrefix("[") { host = "[" + host + "]" }
    if let port = components?.port { host += ":\(port)" }
    var path = components?.path ?? ""
    while path.hasSuffix("/") { path.removeLast() }
    if configuration.usesPathStyle(bucket) {
      path += "/" + bucket + "/"
    } else {
      host = bucket + "." + host
      path += "/"
    }
    if let key { path += Percent.encode(key, keepingSlash: true) }
    var url = "\(scheme)://\(host)\(path)"
    if !query.isEmpty { url += "?" + SigV4Signer.canonicalQuery(query) }
    return (url, host, path)
  }

  func url(key: String?, query: [(String, String)]) -> String {
    address(key: key, query: query).url
  }

  /// A request signed with SigV4 over exactly the headers it carries: `Host`, the content
  /// hash, the date, the session token and any `x-amz-*`/`Content-Type` header given.
  func signedRequest(
    _ method: HTTPMethod, key: String?, query: [(String, String)] = [], body: [UInt8] = [],
    headers extra: [HTTPHeader] = [], credentials: AWSCredentials, date: Date = Date(),
    payloadHash: String? = nil
  ) -> HTTPRequest {
    let (url, host, path) = address(key: key, query: query)
    let hash = payloadHash ?? (body.isEmpty ? Self.emptyHash : Hex.encode(SHA256.hash(body)))
    let timestamp = SigV4Signer.timestamp(date)
    var headers = extra
    headers.append(HTTPHeader("Host", host))
    headers.append(HTTPHeader("x-amz-content-sha256", hash))
    headers.append(HTTPHeader("x-amz-date", timestamp))
    var signed: [(String, String)] = [
      ("host", host), ("x-amz-content-sha256", hash), ("x-amz-date", timestamp),
    ]
    for header in extra {
      let name = header.name.lowercased()
      guard name.hasPrefix("x-amz-") || name == "content-type", case .text(let value) = header.value
      else { continue }
      signed.append((name, value))
    }
    if let token = credentials.sessionToken {
      headers.append(HTTPHeader("x-amz-security-token", secret: token))
      // The token is signed as AWS asks; it exists as a String only for this call.
      signed.append(("x-amz-security-token", token.unsafeUTF8String() ?? ""))
    }
    if method == .put && body.isEmpty { headers.append(HTTPHeader("Content-Length", "0")) }
    let signer = SigV4Signer(
      accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secretAccessKey,
      region: configuration.region, service: "s3")
    let authorization = signer.authorization(
      SigV4Signer.Request(
        method: method.rawValue, path: path, query: query, headers: signed, payloadHash: hash),
      timestamp: timestamp)
    headers.append(HTTPHeader("Authorization", authorization))
    return HTTPRequest(
      method, url, headers: headers, body: body.isEmpty ? .empty : .bytes(body))
  }

  func send(
    _ method: HTTPMethod, key: String?, query: [(String, String)] = [], body: [UInt8] = [],
    headers extra: [HTTPHeader] = []
  ) async throws -> HTTPResponse {
    let credentials = try await configuration.credentials.current()
    let request = signedRequest(
      method, key: key, query: query, body: body, headers: extra, credentials: credentials)
    return try await send(request)
  }

  func send(_ request: HTTPRequest) async throws -> HTTPResponse {
    do {
      return try await pool.send(request)
    } catch let error as HTTPError {
      throw ObjectStoreError.unreachable(endpoint: configuration.endpointDisplay, cause: error)
    }
  }

  /// The one place an S3 status becomes an `ObjectStoreError`.
  func error(for response: HTTPResponse, key: String?, operation: String) -> ObjectStoreError {
    let scanner = XMLScanner(text: response.text)
    let code = scanner.value("Code") ?? ""
    let message = scanner.value("Message") ?? ""
    let target = key.map { "\(bucketURL)/\($0)" } ?? bucketURL
    let detail = [code, message].filter { !$0.isEmpty }.joined(separator: ": ")
    switch (response.status, code) {
    case (_, "NoSuchBucket"): return .noSuchBucket(bucket)
    case (_, "NoSuchKey"): return .noSuchKey(target)
    case (_, "InvalidAccessKeyId"), (_, "SignatureDoesNotMatch"), (_, "InvalidToken"),
      (_, "ExpiredToken"), (_, "InvalidClientTokenId"), (_, "AuthorizationHeaderMalformed"):
      return .badCredentials(
        endpoint: configuration.endpointDisplay, code: code,
        origin: configuration.credentials.origin)
    case (403, _): return .accessDenied(url: target, operation: operation, detail: detail)
    case (404, _): return key == nil ? .noSuchBucket(bucket) : .noSuchKey(target)
    default: return .server(status: response.status, url: target, detail: detail)
    }
  }

  static func errorCode(_ response: HTTPResponse) -> String? {
    XMLScanner(text: response.text).value("Code")
  }

  static func parseISODate(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
  }

  static func parseHTTPDate(_ text: String) -> Date? {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
    return formatter.date(from: text)
  }
}
