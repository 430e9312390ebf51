#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The only holder of secret material in Lockstep.
///
/// The bytes live in one heap buffer owned by a final class, so copies of a `SecretBytes`
/// share storage instead of scattering the secret around memory, and the buffer is zeroed
/// with `explicit_bzero` (which the compiler may not elide) when the last reference goes.
/// Equality is constant-time, and neither `description` nor `debugDescription` shows the
/// contents, so a secret interpolated into a log line or error prints `<redacted>`.
public struct SecretBytes: Sendable, Equatable, CustomStringConvertible,
  CustomDebugStringConvertible
{
  /// Immutable after initialisation, so sharing it across threads is safe; the pointer is
  /// only written in `init` and zeroed in `deinit`, when no other reference exists.
  final class Storage: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
      self.count = count
      pointer = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1), alignment: 16)
    }

    deinit {
      explicit_bzero(pointer, Swift.max(count, 1))
      pointer.deallocate()
    }
  }

  let storage: Storage

  /// A secret of `count` bytes filled by `body`, which must write every byte.
  public init(count: Int, initializingWith body: (UnsafeMutableRawBufferPointer) throws -> Void)
    rethrows
  {
    storage = Storage(count: count)
    explicit_bzero(storage.pointer, Swift.max(count, 1))
    try body(UnsafeMutableRawBufferPointer(start: storage.pointer, count: count))
  }

  /// Copies `bytes`; the caller stays responsible for wiping its own copy.
  public init(copying bytes: some Collection<UInt8>) {
    let array = Array(bytes)
    self.init(count: array.count) { buffer in
      array.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
  }

  /// Takes the bytes of `array` and zeroes the array, so no copy remains outside.
  public init(consuming array: inout [UInt8]) {
    let source = array
    self.init(count: source.count) { buffer in
      source.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
    array.withUnsafeMutableBytes { if let base = $0.baseAddress { explicit_bzero(base, $0.count) } }
    array = []
  }

  /// The UTF-8 bytes of `string`. Swift strings cannot be wiped, so call this as close as
  /// possible to where the string was produced and let the string go at once.
  public init(utf8 string: String) {
    self.init(copying: Array(string.utf8))
  }

  /// `count` bytes from the system's cryptographic generator (`getrandom`).
  public static func random(count: Int) -> SecretBytes {
    SecretBytes(count: count) { buffer in SystemRandom.fill(buffer) }
  }

  public var count: Int { storage.count }
  public var isEmpty: Bool { storage.count == 0 }

  /// Read access to the bytes; the pointer must not escape `body`.
  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try body(UnsafeRawBufferPointer(start: storage.pointer, count: storage.count))
  }

  /// Decodes the secret as UTF-8 for the one call that must have a `String` (a libpq
  /// conninfo, an HTTP body). Returns nil when the bytes are not valid UTF-8.
  public func unsafeUTF8String() -> String? {
    withUnsafeBytes { raw in
      String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self)
    }
  }

  /// An array copy for APIs that need one; wipe it with `SecretBytes.wipe` when done.
  public func unsafeArray() -> [UInt8] {
    withUnsafeBytes { Array($0) }
  }

  /// Zeroes an array that held secret bytes.
  public static func wipe(_ array: inout [UInt8]) {
    array.withUnsafeMutableBytes { if let base = $0.baseAddress { explicit_bzero(base, $0.count) } }
  }

  /// Constant-time comparison: the time taken depends on the lengths only, never on where
  /// the first differing byte is.
  public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    lhs.withUnsafeBytes { a in
      rhs.withUnsafeBytes { b in
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
      }
    }
    return difference == 0
  }

  public var description: String { "<redacted>" }
  public var debugDescription: String { "SecretBytes(<redacted>, \(count) bytes)" }
}
