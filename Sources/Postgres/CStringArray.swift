import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// NUL-terminated copies of strings and secrets laid out as a C `const char *const *`,
/// zeroed before they are freed.
///
/// libpq copies keyword values and parameters when it is called, so the copies live for
/// one call: `release()` right after it (and `deinit` as the fallback) wipes every buffer,
/// secret or not, because a parameter may be a password too.
final class CStringArray {
  enum Element {
    case null
    case text(String)
    case secret(SecretBytes)
  }

  private(set) var pointers: [UnsafePointer<CChar>?] = []
  private var buffers: [UnsafeMutableBufferPointer<CChar>] = []

  /// Fails, naming the element's position, when a value contains a NUL byte: C would
  /// silently cut it short there.
  init(_ elements: [Element], terminated: Bool = false) throws(PostgresError) {
    for (index, element) in elements.enumerated() {
      switch element {
      case .null:
        pointers.append(nil)
      case .text(let string):
        let bytes = Array(string.utf8)
        guard !bytes.contains(0) else {
          release()
          throw .invalidConfiguration("value \(index + 1) contains a NUL byte")
        }
        append(count: bytes.count) { buffer in
          bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
      case .secret(let secret):
        let hasNUL = secret.withUnsafeBytes { $0.contains(0) }
        guard !hasNUL else {
          release()
          throw .invalidConfiguration("a password contains a NUL byte")
        }
        append(count: secret.count) { buffer in
          secret.withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
      }
    }
    if terminated { pointers.append(nil) }
  }

  private func append(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
    let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: count + 1)
    buffer.initialize(repeating: 0)
    fill(UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: count))
    buffers.append(buffer)
    pointers.append(UnsafePointer(buffer.baseAddress))
  }

  /// Zeroes and frees every copy; idempotent.
  func release() {
    for buffer in buffers {
      explicit_bzero(buffer.baseAddress!, buffer.count)
      buffer.deallocate()
    }
    buffers = []
    pointers = []
  }

  deinit { release() }
}
