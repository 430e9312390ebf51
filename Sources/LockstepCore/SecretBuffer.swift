#if canImport(Glibc)
  import Glibc
#endif

/// A growable byte buffer for response and request bodies that may hold secrets.
///
/// An `Array` that grows leaves its old storage behind un-wiped; this buffer wipes the old
/// storage on every growth and on release, so a secret read from Vault exists in exactly
/// one place until it becomes a `SecretBytes`.
public final class SecretBuffer {
  private var pointer: UnsafeMutableRawPointer
  private var capacity: Int
  public private(set) var count = 0

  public init(capacity: Int = 1024) {
    self.capacity = max(capacity, 16)
    pointer = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
  }

  deinit {
    explicit_bzero(pointer, capacity)
    pointer.deallocate()
  }

  private func reserve(_ extra: Int) {
    guard count + extra > capacity else { return }
    var newCapacity = capacity * 2
    while newCapacity < count + extra { newCapacity *= 2 }
    let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
    grown.copyMemory(from: pointer, byteCount: count)
    explicit_bzero(pointer, capacity)
    pointer.deallocate()
    pointer = grown
    capacity = newCapacity
  }

  public func append(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    reserve(bytes.count)
    (pointer + count).copyMemory(from: base, byteCount: bytes.count)
    count += bytes.count
  }

  public func append(_ byte: UInt8) {
    reserve(1)
    pointer.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
    count += 1
  }

  public func append(_ string: StaticString) {
    append(UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
  }

  /// Appends non-secret text such as a JSON key.
  public func append(text: String) {
    var copy = text
    copy.withUTF8 { append(UnsafeRawBufferPointer($0)) }
  }

  public func append(_ secret: SecretBytes) {
    secret.withUnsafeBytes { append($0) }
  }

  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try body(UnsafeRawBufferPointer(start: pointer, count: count))
  }

  /// Copies the contents into a `SecretBytes` and wipes this buffer.
  public func takeSecret() -> SecretBytes {
    let result = SecretBytes(count: count) { target in
      if count > 0 { target.baseAddress!.copyMemory(from: pointer, byteCount: count) }
    }
    explicit_bzero(pointer, capacity)
    count = 0
    return result
  }
}

@available(*, unavailable)
extension SecretBuffer: Sendable {}

extension SecretBuffer: ByteAppender {}
