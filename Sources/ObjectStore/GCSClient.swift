import Foundation
import HTTP
import LockstepCore

/// A Google Cloud Storage bucket through the JSON API (`/storage/v1`, media uploads), the
/// API both Google and the fake-gcs-server emulator serve.
public final class GCSClient: ObjectStore {
  public let configuration: GCSConfiguration
  public let bucket: String
  private let pool: HTTPClientPool

  public init(bucket: String, configuration: GCSConfiguration, connections: Int = 4) {
    self.bucket = bucket
    self.configuration = configuration
    pool = ObjectStores.pool(connections: connections, caFile: configuration.caFile)
  }

  public var bucketURL: String { "gs://\(bucket)" }

  private var bucketPath: String { "/storage/v1/b/\(Percent.encode(bucket))" }
  private func objectPath(_ key: String) -> String { bucketPath + "/o/" + Percent.encode(key) }

  public func put(_ key: String, _ bytes: [UInt8]) async throws {
    let path =
      "/upload/storage/v1/b/\(Percent.encode(bucket))/o?uploadType=media&name="
      + Percent.encode(key)
    let response = try await send(
      .post, path, body: bytes, headers: [HTTPHeader("Content-Type", "application/octet-stream")])
    try expectSuccess(response, key: key, operation: "write")
  }

  public func get(_ key: String) async throws -> [UInt8] {
    let response = try await send(.get, objectPath(key) + "?alt=media")
    if response.status == 404 { throw try await missing(key) }
    try expectSuccess(response, key: key, operation: "read")
    return response.body.unsafeArray()
  }

  public func head(_ key: String) async throws -> ObjectInfo? {
    let response = try await send(.get, objectPath(key))
    if response.status == 404 {
      if case .noSuchBucket(let name) = try await missing(key) {
        throw ObjectStoreError.noSuchBucket(name)
      }
      return nil
    }
    try expectSuccess(response, key: key, operation: "read")
    guard let object = Self.json(response) else {
      throw ObjectStoreError.invalidResponse(url: "\(bucketURL)/\(key)", detail: "not JSON")
    }
    return Self.info(object)
  }

  public func list(prefix: String) async throws -> [ObjectInfo] {
    var objects: [ObjectInfo] = []
    var pageToken: String?
    repeat {
      var query = "?prefix=" + Percent.encode(prefix)
      if let pageToken { query += "&pageToken=" + Percent.encode(pageToken) }
      let response = try await send(.get, bucketPath + "/o" + query)
      if response.status == 404 { throw ObjectStoreError.noSuchBucket(bucket) }
      try expectSuccess(response, key: nil, operation: "list")
      guard let page = Self.json(response) else {
        throw ObjectStoreError.invalidResponse(url: bucketURL, detail: "not JSON")
      }
      for case let item as [String: Any] in page["items"] as? [Any] ?? [] {
        if let info = Self.info(item) { objects.append(info) }
      }
      pageToken = page["nextPageToken"] as? String
    } while pageToken != nil
    return objects.sorted { $0.key < $1.key }
  }

  public func delete(_ key: String) async throws {
    let response = try await send(.delete, objectPath(key))
    if response.status == 404 {
      if case .noSuchBucket(let name) = try await missing(key) {
        throw ObjectStoreError.noSuchBucket(name)
      }
      return
    }
    try expectSuccess(response, key: key, operation: "delete")
  }

  public func copy(from source: String, to destination: String) async throws {
    let path =
      objectPath(source) + "/copyTo/b/\(Percent.encode(bucket))/o/" + Percent.encode(destination)
    let response = try await send(.post, path)
    if response.status == 404 { throw try await missing(source) }
    try expectSuccess(response, key: destination, operation: "write")
  }

  public func check() async throws -> String {
    let response = try await send(.get, bucketPath)
    if response.status == 404 { throw ObjectStoreError.noSuchBucket(bucket) }
    try expectSuccess(response, key: nil, operation: "read")
    return "\(bucketURL) at \(configuration.endpointDisplay) answers; credentials accepted."
  }

  // MARK: - The request funnel

  private func send(
    _ method: HTTPMethod, _ path: String, body: [UInt8] = [], headers extra: [HTTPHeader] = []
  ) async throws -> HTTPResponse {
    var headers = extra
    if let token = try await configuration.token.current() {
      var value = Array("Bearer ".utf8)
      token.withUnsafeBytes { value.append(contentsOf: $0) }
      headers.append(HTTPHeader("Authorization", secret: SecretBytes(consuming: &value)))
    }
    if body.isEmpty && method == .post { headers.append(HTTPHeader("Content-Length", "0")) }
    let request = HTTPRequest(
      method, configuration.endpoint + path, headers: headers,
      body: body.isEmpty ? .empty : .bytes(body))
    do {
      return try await pool.send(request)
    } catch let error as HTTPError {
      throw ObjectStoreError.unreachable(endpoint: configuration.endpointDisplay, cause: error)
    }
  }

  /// A 404 names neither the bucket nor the object: ask for the bucket to tell them apart.
  private func missing(_ key: String) async throws -> ObjectStoreError {
    let response = try await send(.get, bucketPath)
    return response.status == 404 ? .noSuchBucket(bucket) : .noSuchKey("\(bucketURL)/\(key)")
  }

  private func expectSuccess(_ response: HTTPResponse, key: String?, operation: String) throws {
    guard !response.isSuccess else { return }
    let target = key.map { "\(bucketURL)/\($0)" } ?? bucketURL
    let message = ((Self.json(response)?["error"] as? [String: Any])?["message"] as? String) ?? ""
    switch response.status {
    case 401:
      throw ObjectStoreError.badCredentials(
        endpoint: "Google Cloud Storage at \(configuration.endpointDisplay)",
        code: "401 \(message)", origin: configuration.credentialOrigin)
    case 403:
      throw ObjectStoreError.accessDenied(url: target, operation: operation, detail: message)
    case 404:
      throw key == nil ? ObjectStoreError.noSuchBucket(bucket) : .noSuchKey(target)
    default:
      throw ObjectStoreError.server(status: response.status, url: target, detail: message)
    }
  }

  private static func json(_ response: HTTPResponse) -> [String: Any]? {
    response.body.withUnsafeBytes { bytes in
      (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }
  }

  private static func info(_ object: [String: Any]) -> ObjectInfo? {
    guard let name = object["name"] as? String else { return nil }
    let size = (object["size"] as? String).flatMap(Int.init) ?? (object["size"] as? Int) ?? 0
    return ObjectInfo(
      key: name, size: size,
      lastModified: (object["updated"] as? String).flatMap(S3Client.parseISODate),
      etag: object["etag"] as? String)
  }
}
