internal import CSodium
import LockstepCore

/// HMAC-SHA-256 (RFC 2104) through libsodium's incremental API, which takes keys of any
/// length. Evidence fingerprints values with it; the envelope authenticates its header.
public final class HMACSHA256 {
  public static let byteCount = 32

  private let state: UnsafeMutablePointer<crypto_auth_hmacsha256_state>

  public init(key: SecretBytes) {
    precondition(sodiumInitialised, "libsodium failed to initialise")
    state = .allocate(capacity: 1)
    key.withUnsafeBytes { key in
      _ = crypto_auth_hmacsha256_init(state, secretBytes(key), key.count)
    }
  }

  deinit {
    // The state holds the padded key: wipe it before the memory is reused.
    sodium_memzero(state, MemoryLayout<crypto_auth_hmacsha256_state>.size)
    state.deallocate()
  }

  public func update(_ buffer: UnsafeRawBufferPointer) {
    guard buffer.count > 0 else { return }
    _ = crypto_auth_hmacsha256_update(state, bytes(buffer), UInt64(buffer.count))
  }

  public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

  /// The MAC; the instance must not be used afterwards.
  public func finalize() -> [UInt8] {
    var mac = [UInt8](repeating: 0, count: Self.byteCount)
    _ = crypto_auth_hmacsha256_final(state, &mac)
    return mac
  }

  public static func authenticate(_ message: UnsafeRawBufferPointer, key: SecretBytes) -> [UInt8] {
    let hmac = HMACSHA256(key: key)
    hmac.update(message)
    return hmac.finalize()
  }

  public static func authenticate(_ message: [UInt8], key: SecretBytes) -> [UInt8] {
    message.withUnsafeBytes { authenticate($0, key: key) }
  }

  public static func authenticate(_ message: SecretBytes, key: SecretBytes) -> [UInt8] {
    message.withUnsafeBytes { authenticate($0, key: key) }
  }

  /// Constant-time check of `mac` against the MAC of `message`.
  public static func isValid(_ mac: [UInt8], for message: [UInt8], key: SecretBytes) -> Bool {
    ConstantTime.equal(mac, authenticate(message, key: key))
  }
}
