import Crypto
import Foundation
import HTTP
import LockstepCore

/// Streaming writes, the one-request existence probe and Object Lock aware deletes.
///
/// One backup costs at most 3 requests plus its multipart parts: the probe (`exists`), then
/// either one `PUT` (an object smaller than `S3Upload.partSize`) or
/// `CreateMultipartUpload` + the parts + `CompleteMultipartUpload`. Nothing is read back:
/// every body is signed with its SHA-256 (`x-amz-content-sha256`, which S3 checks against
/// the bytes it received) and carries `x-amz-checksum-sha256`, which S3 checks and stores.
/// The final request carries `If-None-Match: *`, so an object that appeared meanwhile is
/// never overwritten.
extension S3Client {
  /// `GET` of the object's first byte: 200/206/416 mean it exists; `NoSuchKey` that it does
  /// not; a missing bucket, refused credentials or denied access fail here, before the
  /// backup reads Vault (a `HEAD` answer has no body to tell those apart).
  public func exists(_ key: String) async throws -> Bool {
    let response = try await send(.get, key: key, headers: [HTTPHeader("Range", "bytes=0-0")])
    if response.isSuccess || response.status == 416 { return true }
    if response.status == 404 && Self.errorCode(response) == "NoSuchKey" { return false }
    throw error(for: response, key: key, operation: "read")
  }

  public func openUpload(_ key: String, options: ObjectWriteOptions) async throws
    -> any ObjectUpload
  {
    S3Upload(
      client: self, key: key, options: options,
      credentials: try await configuration.credentials.current())
  }

  /// `HEAD` for the version and its retention; a version still retained (or under a legal
  /// hold) is left in place. Otherwise `DELETE` of that version (with `versionId` in a
  /// versioned bucket, so that the data goes, not just behind a delete marker). A `DELETE`
  /// that S3 refuses because of a lock is reported as retained too.
  public func deleteUnlessRetained(_ key: String) async throws -> DeletionOutcome {
    let head = try await send(.head, key: key)
    if head.status == 404 { return .deleted }
    try expectSuccess(head, key: key, operation: "read")
    let until = head.header("x-amz-object-lock-retain-until-date").flatMap(Self.parseISODate)
    if let until, until > Date() { return .retained(until: until) }
    if head.header("x-amz-object-lock-legal-hold")?.uppercased() == "ON" {
      return .retained(until: nil)
    }
    var query: [(String, String)] = []
    if let version = head.header("x-amz-version-id"), version != "null" {
      query.append(("versionId", version))
    }
    let response = try await send(.delete, key: key, query: query)
    if response.status == 404 && Self.errorCode(response) == "NoSuchKey" { return .deleted }
    if response.status == 403 && (Self.errorCode(response) ?? "") == "AccessDenied",
      head.header("x-amz-object-lock-mode") != nil
    {
      return .retained(until: until)
    }
    try expectSuccess(response, key: key, operation: "delete")
    return .deleted
  }

  func expectSuccess(_ response: HTTPResponse, key: String?, operation: String) throws {
    guard !response.isSuccess else { return }
    if response.status == 412 { throw ObjectStoreError.alreadyExists(url(key: key)) }
    throw error(for: response, key: key, operation: operation)
  }

  private func url(key: String?) -> String {
    key.map { "\(bucketURL)/\($0)" } ?? bucketURL
  }
}

/// One object written as a stream: held in one part-sized buffer; a single `PUT` when the
/// whole object fits, else a multipart upload whose parts go out as they fill.
///
/// `write` sends a full part on the calling thread with a blocking HTTP handle of its own
/// (the backup calls it from HTTP pool threads or a dedicated thread, never the cooperative
/// pool); `commit` and `abort` use the client's pool. Memory: one part.
public final class S3Upload: ObjectUpload {
  /// 8 MiB: above S3's 5 MiB minimum for all but the last part; 10,000 parts allow 78 GiB.
  public static let partSize = 8 << 20

  let client: S3Client
  let key: String
  let options: ObjectWriteOptions
  let credentials: AWSCredentials
  private var buffer: [UInt8] = []
  private var uploadID: String?
  private var parts: [(number: Int, etag: String, checksum: String)] = []
  private var http: HTTPClient?
  public private(set) var requests = 0

  init(client: S3Client, key: String, options: ObjectWriteOptions, credentials: AWSCredentials) {
    self.client = client
    self.key = key
    self.options = options
    self.credentials = credentials
    buffer.reserveCapacity(Self.partSize)
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    var offset = 0
    while offset < bytes.count {
      let take = min(Self.partSize - buffer.count, bytes.count - offset)
      buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
      offset += take
      if buffer.count == Self.partSize && offset < bytes.count {
        // More follows, so this is not the last part: send it now.
        try sendPartBlocking()
      }
    }
  }

  /// The part is sent only once a byte beyond it exists, so that an object of exactly one
  /// part goes with a single `PUT`.
  private func sendPartBlocking() throws {
    if http == nil {
      http = try HTTPClient(
        settings: HTTPClient.Settings(
          connectTimeout: .seconds(10), timeout: .seconds(300), caFile: client.configuration.caFile)
      )
    }
    guard let http else { return }
    func perform(_ request: HTTPRequest) throws -> HTTPResponse {
      requests += 1
      do {
        return try http.send(request)
      } catch let error as HTTPError {
        throw ObjectStoreError.unreachable(
          endpoint: client.configuration.endpointDisplay, cause: error)
      }
    }
    if uploadID == nil {
      let response = try perform(createRequest())
      uploadID = try parseUploadID(response)
    }
    let (request, checksum) = partRequest(number: parts.count + 1, body: buffer)
    let response = try perform(request)
    try record(response, number: parts.count + 1, checksum: checksum)
    buffer.removeAll(keepingCapacity: true)
  }

  public func commit() async throws {
    let (hex, base64) = Self.digests(buffer)
    guard let uploadID else {
      requests += 1
      let response = try await client.send(
        client.signedRequest(
          .put, key: key, body: buffer,
          headers: [
            HTTPHeader("Content-Type", "application/octet-stream"),
            HTTPHeader("If-None-Match", "*"),
            HTTPHeader("x-amz-sdk-checksum-algorithm", "SHA256"),
            HTTPHeader("x-amz-checksum-sha256", base64),
          ] + lockHeaders(), credentials: credentials, payloadHash: hex))
      try client.expectSuccess(response, key: key, operation: "write")
      return
    }
    if !buffer.isEmpty || parts.isEmpty {
      requests += 1
      let (request, checksum) = partRequest(number: parts.count + 1, body: buffer)
      try record(try await client.send(request), number: parts.count + 1, checksum: checksum)
    }
    var xml = "<CompleteMultipartUpload>"
    for part in parts {
      xml +=
        "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(Self.escape(part.etag))</ETag>"
        + "<ChecksumSHA256>\(part.checksum)</ChecksumSHA256></Part>"
    }
    xml += "</CompleteMultipartUpload>"
    requests += 1
    let response = try await client.send(
      client.signedRequest(
        .post, key: key, query: [("uploadId", uploadID)], body: Array(xml.utf8),
        headers: [
          HTTPHeader("Content-Type", "application/xml"), HTTPHeader("If-None-Match", "*"),
        ], credentials: credentials))
    try client.expectSuccess(response, key: key, operation: "write")
    // S3 may answer 200 with an error document when completing fails part-way.
    if XMLScanner(text: response.text).value("Code") != nil {
      throw client.error(for: response, key: key, operation: "write")
    }
    self.uploadID = nil
  }

  public func abort() async {
    guard let uploadID else { return }
    requests += 1
    _ = try? await client.send(
      client.signedRequest(
        .delete, key: key, query: [("uploadId", uploadID)], credentials: credentials))
    self.uploadID = nil
  }

  // MARK: - Requests

  private func lockHeaders() -> [HTTPHeader] {
    guard let until = options.retainUntil else { return [] }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return [
      HTTPHeader("x-amz-object-lock-mode", options.retentionMode.rawValue),
      HTTPHeader("x-amz-object-lock-retain-until-date", formatter.string(from: until)),
    ]
  }

  private func createRequest() -> HTTPRequest {
    client.signedRequest(
      .post, key: key, query: [("uploads", "")],
      headers: [
        HTTPHeader("Content-Type", "application/octet-stream"),
        HTTPHeader("x-amz-checksum-algorithm", "SHA256"),
      ] + lockHeaders(), credentials: credentials)
  }

  private func parseUploadID(_ response: HTTPResponse) throws -> String {
    try client.expectSuccess(response, key: key, operation: "write")
    guard let id = XMLScanner(text: response.text).value("UploadId"), !id.isEmpty else {
      throw ObjectStoreError.invalidResponse(
        url: "\(client.bucketURL)/\(key)", detail: "CreateMultipartUpload without an UploadId")
    }
    return id
  }

  private func partRequest(number: Int, body: [UInt8]) -> (HTTPRequest, String) {
    let (hex, base64) = Self.digests(body)
    let request = client.signedRequest(
      .put, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID ?? "")],
      body: body,
      headers: [
        HTTPHeader("Content-Type", "application/octet-stream"),
        HTTPHeader("x-amz-sdk-checksum-algorithm", "SHA256"),
        HTTPHeader("x-amz-checksum-sha256", base64),
      ], credentials: credentials, payloadHash: hex)
    return (request, base64)
  }

  private func record(_ response: HTTPResponse, number: Int, checksum: String) throws {
    try client.expectSuccess(response, key: key, operation: "write")
    guard let etag = response.header("etag") else {
      throw ObjectStoreError.invalidResponse(
        url: "\(client.bucketURL)/\(key)", detail: "an uploaded part without an ETag")
    }
    parts.append((number, etag, checksum))
  }

  static func digests(_ body: [UInt8]) -> (hex: String, base64: String) {
    let digest = SHA256.hash(body)
    return (Hex.encode(digest), Data(digest).base64EncodedString())
  }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
      .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }
}
