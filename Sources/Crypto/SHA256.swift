internal import COpenSSL
import LockstepCore

/// Incremental SHA-256 through OpenSSL, which uses the SHA extensions of the CPU where it
/// has them; backups hash whole payloads, so the speed matters.
public final class SHA256 {
  public static let byteCount = 32

  private let context: OpaquePointer

  public init() {
    guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
    self.context = context
    guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
      fatalError("EVP_DigestInit_ex(SHA-256) failed")
    }
  }

  deinit { EVP_MD_CTX_free(context) }

  public func update(_ buffer: UnsafeRawBufferPointer) {
    guard buffer.count > 0 else { return }
    guard EVP_DigestUpdate(context, buffer.baseAddress, buffer.count) == 1 else {
      fatalError("EVP_DigestUpdate failed")
    }
  }

  public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
  public func update(_ text: String) { update(Array(text.utf8)) }

  /// The digest; the hasher must not be used afterwards.
  public func finalize() -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: Self.byteCount)
    var length: UInt32 = 0
    guard EVP_DigestFinal_ex(context, &digest, &length) == 1 else {
      fatalError("EVP_DigestFinal_ex failed")
    }
    return digest
  }

  public static func hash(_ buffer: UnsafeRawBufferPointer) -> [UInt8] {
    let hasher = SHA256()
    hasher.update(buffer)
    return hasher.finalize()
  }

  public static func hash(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { hash($0) } }
  public static func hash(_ text: String) -> [UInt8] { hash(Array(text.utf8)) }
  public static func hash(_ secret: SecretBytes) -> [UInt8] { secret.withUnsafeBytes { hash($0) } }
}
