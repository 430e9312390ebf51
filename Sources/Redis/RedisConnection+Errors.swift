internal import CHiredis

#if canImport(Glibc)
  import Glibc
#endif

/// The one place hiredis' context errors and Redis' error replies become `RedisError`.
extension RedisConnection {
  static func contextFailure(
    _ context: HiredisContext, endpoint: String, connecting: Bool
  ) -> RedisError {
    let code = context.pointee.err
    let message = withUnsafeBytes(of: context.pointee.errstr) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    let lowered = message.lowercased()
    if lowered.contains("refused") { return .connectionRefused(endpoint: endpoint) }
    if lowered.contains("timed out") || lowered.contains("temporarily unavailable") {
      return .timeout(endpoint: endpoint)
    }
    switch code {
    case REDIS_ERR_EOF:
      return .connectionLost(endpoint: endpoint, reason: "the server closed the connection")
    case REDIS_ERR_PROTOCOL:
      return .protocolError(reason: message)
    case REDIS_ERR_OOM:
      return .protocolError(reason: "hiredis ran out of memory")
    default:
      let reason = message.isEmpty ? "unknown error \(code)" : message
      return connecting
        ? .unreachable(endpoint: endpoint, reason: reason)
        : .connectionLost(endpoint: endpoint, reason: reason)
    }
  }

  static func serverFailure(
    _ message: String, command: String, endpoint: String, user: String
  ) -> RedisError {
    if message.hasPrefix("NOAUTH") { return .authenticationRequired(endpoint: endpoint) }
    if message.hasPrefix("WRONGPASS") || message.hasPrefix("ERR invalid password")
      || message.hasPrefix("ERR invalid username-password pair")
    {
      return .authenticationFailed(endpoint: endpoint, user: user)
    }
    if message.hasPrefix("ERR AUTH") && message.contains("without any password configured")
      || message.hasPrefix("ERR Client sent AUTH, but no password is set")
    {
      return .passwordNotExpected(endpoint: endpoint)
    }
    if message.hasPrefix("NOPERM") { return .permissionDenied(command: command, user: user) }
    return .server(command: command, message: trimmed(message))
  }

  /// Drops the arguments Redis echoes in some errors (`unknown command 'X', with args
  /// beginning with: 'secret'`) and the trailing period, and caps the length.
  static func trimmed(_ message: String) -> String {
    var text = Substring(message)
    if let echo = text.range(of: ", with args beginning with:") {
      text = text[..<echo.lowerBound]
    }
    while text.last == "." || text.last == " " { text = text.dropLast() }
    return String(text.prefix(200))
  }
}
