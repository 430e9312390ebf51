import LockstepCore

/// A reply copied out of hiredis' `redisReply`, so no C memory outlives the call that read it.
///
/// Bulk strings stay bytes: keys and values are binary-safe in Redis, and a session value
/// is no business of a `String`. Error replies at the top level are thrown as `RedisError`;
/// the `.error` case only appears nested (inside `EXEC` results, for instance).
public enum RedisReply: Sendable, Equatable {
  case bulk([UInt8])
  case status(String)
  case integer(Int64)
  case array([RedisReply])
  case null
  case error(String)

  /// The bytes of a bulk string or status as UTF-8 text; nil for other replies.
  public var text: String? {
    switch self {
    case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
    case .status(let text): text
    default: nil
    }
  }

  public var integer: Int64? {
    if case .integer(let value) = self { return value }
    return nil
  }

  public var array: [RedisReply]? {
    if case .array(let elements) = self { return elements }
    return nil
  }
}

/// One argument of a command: plain bytes, or a secret that is copied only into the
/// scratch buffer handed to hiredis and wiped right after the call.
public struct RedisArgument: Sendable, ExpressibleByStringLiteral {
  enum Storage: Sendable {
    case bytes([UInt8])
    case secret(SecretBytes)
  }

  let storage: Storage

  public init(_ bytes: [UInt8]) { storage = .bytes(bytes) }
  public init(_ text: String) { storage = .bytes(Array(text.utf8)) }
  public init(stringLiteral value: String) { self.init(value) }
  public init(_ number: Int) { self.init(String(number)) }
  public static func secret(_ value: SecretBytes) -> RedisArgument {
    RedisArgument(storage: .secret(value))
  }

  private init(storage: Storage) { self.storage = storage }

  var count: Int {
    switch storage {
    case .bytes(let bytes): bytes.count
    case .secret(let secret): secret.count
    }
  }

  func copy(into buffer: UnsafeMutableRawBufferPointer) {
    switch storage {
    case .bytes(let bytes): bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    case .secret(let secret): secret.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
  }
}
