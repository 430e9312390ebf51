internal import CCurl
import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// libcurl's process-wide initialisation, done once before the first handle exists.
/// - SeeAlso: https://curl.se/libcurl/c/curl_global_init.html
private let curlGlobalInitialisation: Void = {
  _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
}()

/// One libcurl easy handle, reused for every request so that libcurl keeps the connection
/// alive between them (`curl_easy_reset` keeps the connection cache).
///
/// Blocking: `send` performs the transfer on the calling thread. Use it from a thread of
/// your own, or through `HTTPClientPool`, never in a loop on Swift's cooperative pool.
public final class HTTPClient {
  /// Settings shared by every request of a client.
  public struct Settings: Sendable {
    public var connectTimeout: Duration
    /// Total time allowed for one request, connection included.
    public var timeout: Duration
    /// PEM bundle of the certificate authorities to trust (`CURLOPT_CAINFO`).
    public var caFile: String?
    /// Directory of hashed CA certificates (`CURLOPT_CAPATH`).
    public var caPath: String?
    /// Turns off certificate and host name verification; only ever set from an explicit
    /// user flag such as `VAULT_SKIP_VERIFY`.
    public var insecureSkipVerify: Bool
    public var userAgent: String
    /// The largest response body accepted; a larger one is refused as it arrives (or from
    /// its `Content-Length`), never read whole. nil: no cap (object downloads, which the
    /// caller bounds itself).
    public var maxResponseBytes: Int?

    public init(
      connectTimeout: Duration = .seconds(10), timeout: Duration = .seconds(60),
      caFile: String? = nil, caPath: String? = nil, insecureSkipVerify: Bool = false,
      userAgent: String = "lockstep", maxResponseBytes: Int? = nil
    ) {
      self.maxResponseBytes = maxResponseBytes
      self.connectTimeout = connectTimeout
      self.timeout = timeout
      self.caFile = caFile
      self.caPath = caPath
      self.insecureSkipVerify = insecureSkipVerify
      self.userAgent = userAgent
    }
  }

  public let settings: Settings
  /// libcurl's `CURL *` is `void *`.
  private let handle: UnsafeMutableRawPointer
  private let errorBuffer: UnsafeMutablePointer<CChar>
  /// The total timeout of the request in progress, for the timeout sentence.
  private var currentTimeout: Duration = .zero

  public init(settings: Settings = Settings()) throws {
    _ = curlGlobalInitialisation
    guard let handle = curl_easy_init() else { throw HTTPError.setup("curl_easy_init failed") }
    self.handle = handle
    self.settings = settings
    errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
  }

  deinit {
    curl_easy_cleanup(handle)
    errorBuffer.deallocate()
  }

  /// Performs `request` and returns whatever status the server answered; only a failure
  /// to get an HTTP response at all throws.
  /// - SeeAlso: https://curl.se/libcurl/c/curl_easy_perform.html
  public func send(_ request: HTTPRequest) throws -> HTTPResponse {
    let target = request.url
    // A stall timeout replaces the client's total timeout (a long download), so a timeout
    // is then the stall's.
    currentTimeout = request.timeout ?? request.stallTimeout ?? settings.timeout
    curl_easy_reset(handle)
    errorBuffer[0] = 0
    let state = TransferState(limit: settings.maxResponseBytes, consumer: request.consumer)
    let context = Unmanaged.passUnretained(state).toOpaque()
    var headerList: UnsafeMutablePointer<curl_slist>?
    defer { Self.wipeAndFree(headerList) }

    try configure(request, context: context)
    for header in request.headers {
      headerList = try Self.append(header, to: headerList)
    }
    // libcurl would otherwise wait for `100 Continue` before sending a larger body. This
    // line is a removal directive, never sent: a request signer (S3's SigV4) must not sign
    // it, which is why signing happens in ObjectStore over `request.headers` only, and not
    // with libcurl's CURLOPT_AWS_SIGV4 (7.88 signs this line too).
    headerList = curl_slist_append(headerList, "Expect:")
    try check(lockstep_curl_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList), target)

    let code = try request.body.withUnsafeBytes { body -> CURLcode in
      if request.method == .post || !request.body.isEmpty {
        try check(
          lockstep_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)),
          target)
        try check(
          lockstep_curl_setopt_ptr(
            handle, CURLOPT_POSTFIELDS, body.baseAddress ?? Self.emptyBody), target)
      }
      return withExtendedLifetime(state) { curl_easy_perform(handle) }
    }
    if let failure = state.consumerError { throw failure }
    if let limit = settings.maxResponseBytes, state.exceeded || code == CURLE_FILESIZE_EXCEEDED {
      let origin = Target(url: target)
      throw HTTPError.responseTooLarge(host: origin.host, port: origin.port, limit: limit)
    }
    try check(code, target)

    var status = 0
    var connects = 0
    status = getLong(CURLINFO_RESPONSE_CODE)
    connects = getLong(CURLINFO_NUM_CONNECTS)
    return HTTPResponse(
      status: status, headers: state.headers, body: state.body.takeSecret(),
      newConnections: connects)
  }

  private static var emptyBody: UnsafeRawPointer {
    UnsafeRawPointer(("" as StaticString).utf8Start)
  }

  private func configure(_ request: HTTPRequest, context: UnsafeMutableRawPointer) throws {
    let target = request.url
    func set(_ option: CURLoption, _ value: Int) throws {
      try check(lockstep_curl_setopt_long(handle, option, value), target)
    }
    func set(_ option: CURLoption, _ value: String) throws {
      // libcurl copies string options (all but POSTFIELDS), so a scoped pointer is enough.
      try value.withCString { try check(lockstep_curl_setopt_ptr(handle, option, $0), target) }
    }
    try set(CURLOPT_URL, request.url)
    // Never normalise `/../` or `/./`: the path sent is the path its caller validated.
    try set(CURLOPT_PATH_AS_IS, 1)
    try set(CURLOPT_NOSIGNAL, 1)
    try check(lockstep_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer), target)
    try check(
      lockstep_curl_setopt_datacb(handle, CURLOPT_WRITEFUNCTION, transferWriteCallback), target)
    try check(lockstep_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, context), target)
    try check(
      lockstep_curl_setopt_datacb(handle, CURLOPT_HEADERFUNCTION, transferHeaderCallback), target)
    try check(lockstep_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, context), target)
    try set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(settings.connectTimeout))
    let total = request.timeout ?? (request.stallTimeout == nil ? settings.timeout : .zero)
    try set(CURLOPT_TIMEOUT_MS, Self.milliseconds(total))  // 0: none
    try set(CURLOPT_TCP_NODELAY, 1)
    try set(CURLOPT_USERAGENT, settings.userAgent)
    if let stall = request.stallTimeout {
      try set(CURLOPT_LOW_SPEED_LIMIT, 1)
      try set(CURLOPT_LOW_SPEED_TIME, max(1, Self.milliseconds(stall) / 1000))
    }
    if let limit = settings.maxResponseBytes, request.consumer == nil {
      // Refused before the body when the server announces its length; the write callback
      // stops a body that arrives without one (chunked) at the same limit.
      try check(
        lockstep_curl_setopt_off(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(limit)), target)
    }
    if let caFile = settings.caFile { try set(CURLOPT_CAINFO, caFile) }
    if let caPath = settings.caPath { try set(CURLOPT_CAPATH, caPath) }
    if settings.insecureSkipVerify {
      try set(CURLOPT_SSL_VERIFYPEER, 0)
      try set(CURLOPT_SSL_VERIFYHOST, 0)
    }
    switch request.method {
    case .get: try set(CURLOPT_HTTPGET, 1)
    case .head: try set(CURLOPT_NOBODY, 1)
    case .post: break
    default: try set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
    }
    if let credentials = request.credentials {
      try set(CURLOPT_USERNAME, credentials.user)
      // libcurl keeps its own copy of the password until the next reset; ours is wiped.
      var password = credentials.password.unsafeArray()
      password.append(0)
      defer { SecretBytes.wipe(&password) }
      try password.withUnsafeBytes {
        try check(lockstep_curl_setopt_ptr(handle, CURLOPT_PASSWORD, $0.baseAddress), target)
      }
    }
  }

  private func getLong(_ info: CURLINFO) -> Int {
    var value = 0
    _ = lockstep_curl_getinfo_long(handle, info, &value)
    return value
  }

  /// The one place a libcurl status becomes an `HTTPError`.
  private func check(_ code: CURLcode, _ url: String) throws {
    guard code != CURLE_OK else { return }
    // Parsed only on failure: URLComponents is too slow for every request of a walk.
    let target = Target(url: url)
    let detail = Self.detail(code, errorBuffer)
    let host = target.host
    let port = target.port
    switch code {
    case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
      throw HTTPError.invalidURL(target.display)
    case CURLE_COULDNT_RESOLVE_HOST:
      throw HTTPError.couldNotResolve(host: host)
    case CURLE_COULDNT_CONNECT:
      if getLong(CURLINFO_OS_ERRNO) == Int(ECONNREFUSED) {
        throw HTTPError.connectionRefused(host: host, port: port)
      }
      throw HTTPError.couldNotConnect(host: host, port: port, detail: detail)
    case CURLE_OPERATION_TIMEDOUT:
      throw HTTPError.timedOut(
        host: host, port: port, seconds: Double(Self.milliseconds(currentTimeout)) / 1000)
    case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
      CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
      CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE,
      CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_USE_SSL_FAILED:
      throw HTTPError.tls(host: host, port: port, detail: detail)
    case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE:
      throw HTTPError.connectionLost(host: host, port: port, detail: detail)
    default:
      throw HTTPError.transfer(host: host, port: port, detail: detail)
    }
  }

  private static func detail(_ code: CURLcode, _ buffer: UnsafeMutablePointer<CChar>) -> String {
    var text = buffer[0] != 0 ? String(cString: buffer) : String(cString: curl_easy_strerror(code))
    while text.last == "\n" || text.last == "." { text.removeLast() }
    return text
  }

  private static func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
  }

  private static func append(
    _ header: HTTPHeader, to list: UnsafeMutablePointer<curl_slist>?
  ) throws -> UnsafeMutablePointer<curl_slist>? {
    var line = Array("\(header.name): ".utf8)
    defer { SecretBytes.wipe(&line) }
    switch header.value {
    case .text(let value): line += Array(value.utf8)
    case .secret(let value): value.withUnsafeBytes { line.append(contentsOf: $0) }
    }
    line.append(0)
    let appended = line.withUnsafeBytes {
      curl_slist_append(list, $0.baseAddress!.assumingMemoryBound(to: CChar.self))
    }
    guard let appended else { throw HTTPError.setup("out of memory for headers") }
    return appended
  }

  /// Frees a header list after wiping each line: a line may carry a token.
  private static func wipeAndFree(_ list: UnsafeMutablePointer<curl_slist>?) {
    var node = list
    while let current = node {
      if let data = current.pointee.data { explicit_bzero(data, strlen(data)) }
      node = current.pointee.next
    }
    curl_slist_free_all(list)
  }
}

@available(*, unavailable)
extension HTTPClient: Sendable {}

/// Host and port of a URL, for error sentences.
private struct Target {
  let display: String
  let host: String
  let port: Int

  init(url: String) {
    let components = URLComponents(string: url)
    host = components?.host ?? "?"
    let scheme = components?.scheme?.lowercased()
    port = components?.port ?? (scheme == "https" ? 443 : 80)
    var shown = components
    shown?.query = nil
    shown?.password = nil
    display = shown?.string ?? "?"
  }
}

/// What libcurl's callbacks fill during one transfer.
private final class TransferState {
  let body = SecretBuffer(capacity: 4096)
  var headers: [(name: String, value: String)] = []
  let limit: Int?
  /// Set when the body passed `limit`; the transfer was stopped there.
  var exceeded = false
  /// The status of the response being received (from its status line).
  var status = 0
  /// Takes a 2xx body instead of `body`; what it threw stopped the transfer.
  let consumer: (@Sendable (UnsafeRawBufferPointer) throws -> Void)?
  var consumerError: (any Error)?

  init(limit: Int?, consumer: (@Sendable (UnsafeRawBufferPointer) throws -> Void)?) {
    self.limit = limit
    self.consumer = consumer
  }
}

private let transferWriteCallback: lockstep_curl_data_cb = { data, size, count, context in
  let total = size * count
  guard let data, let context else { return 0 }
  let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
  if let consumer = state.consumer, (200..<300).contains(state.status) {
    do {
      try consumer(UnsafeRawBufferPointer(start: data, count: total))
      return total
    } catch {
      state.consumerError = error
      return 0
    }
  }
  if let limit = state.limit, state.body.count + total > limit {
    state.exceeded = true
    return 0
  }
  state.body.append(UnsafeRawBufferPointer(start: data, count: total))
  return total
}

private let transferHeaderCallback: lockstep_curl_data_cb = { data, size, count, context in
  let total = size * count
  guard let data, let context else { return 0 }
  let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
  let line = UnsafeRawBufferPointer(start: data, count: total)
  if line.starts(with: "HTTP/".utf8) {
    // A new response (after `100 Continue` or a redirect): keep only the final headers.
    state.headers.removeAll()
    state.status = HeaderField.status(line) ?? 0
  } else if let field = HeaderField(line) {
    state.headers.append(field.pair)
  }
  return total
}

/// One `Name: value` header line, parsed on its bytes: this runs for every header of every
/// response of a walk, where Foundation's trimming and case mapping cost more than the
/// request itself.
struct HeaderField {
  let pair: (name: String, value: String)

  /// The code of a status line (`HTTP/1.1 200 OK`, `HTTP/2 200`).
  static func status(_ line: UnsafeRawBufferPointer) -> Int? {
    guard let space = line.firstIndex(of: 0x20) else { return nil }
    var code = 0
    var digits = 0
    for byte in line[(space + 1)...] {
      guard (0x30...0x39).contains(byte) else { break }
      code = code * 10 + Int(byte - 0x30)
      digits += 1
    }
    return digits == 3 ? code : nil
  }

  init?(_ line: UnsafeRawBufferPointer) {
    guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
    func isSpace(_ byte: UInt8) -> Bool {
      byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }
    var lower = colon + 1
    var upper = line.count
    while lower < upper, isSpace(line[lower]) { lower += 1 }
    while upper > lower, isSpace(line[upper - 1]) { upper -= 1 }
    let name = String(unsafeUninitializedCapacity: colon) { target in
      for index in 0..<colon {
        let byte = line[index]
        target[index] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
      }
      return colon
    }
    let value = String(
      decoding: UnsafeRawBufferPointer(rebasing: line[lower..<upper]), as: UTF8.self)
    pair = (name, value)
  }
}
