import Crypto
import Foundation
import HTTP
import LockstepCore

/// An S3 (or S3-compatible) bucket, signed by libcurl's `CURLOPT_AWS_SIGV4`.
///
/// libcurl 7.88 signs whatever `x-amz-content-sha256` says and real S3 refuses a request
/// without it, so every request carries the SHA-256 of its body; queries are built in
/// canonical form (sorted, RFC 3986) because curl signs the query as given.
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

  func url(key: String?, query: [(String, String)]) -> String {
    var url: String
    if let endpoint = configuration.endpoint {
      url = endpoint + "/" + bucket + "/"
    } else {
      url = "https://\(bucket).s3.\(configuration.region).amazonaws.com/"
    }
    if let key { url += Percent.encode(key, keepingSlash: true) }
    if !query.isEmpty { url += "?" + Percent.query(query) }
    return url
  }

  func send(
    _ method: HTTPMethod, key: String?, query: [(String, String)] = [], body: [UInt8] = [],
    headers extra: [HTTPHeader] = []
  ) async throws -> HTTPResponse {
    var headers = extra
    let hash = body.isEmpty ? Self.emptyHash : Hex.encode(SHA256.hash(body))
    headers.append(HTTPHeader("x-amz-content-sha256", hash))
    if let token = configuration.sessionToken {
      headers.append(HTTPHeader("x-amz-security-token", secret: token))
    }
    if method == .put && body.isEmpty { headers.append(HTTPHeader("Content-Length", "0")) }
    var request = HTTPRequest(
      method, url(key: key, query: query), headers: headers,
      body: body.isEmpty ? .empty : .bytes(body))
    request.awsSigV4 = "aws:amz:\(configuration.region):s3"
    request.credentials = HTTPCredentials(
      user: configuration.accessKeyID, password: configuration.secretAccessKey)
    do {
      return try await pool.send(request)
    } catch let error as HTTPError {
      throw ObjectStoreError.unreachable(endpoint: configuration.endpointDisplay, cause: error)
    }
  }

  private func expectSuccess(_ response: HTTPResponse, key: String?, operation: String) throws {
    guard !response.isSuccess else { return }
    throw error(for: response, key: key, operation: operation)
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
      return .badCredentials(endpoint: configuration.endpointDisplay, code: code)
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
