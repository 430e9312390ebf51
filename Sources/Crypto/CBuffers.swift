internal import COpenSSL

/// The `const unsigned char *` view of a raw buffer. Nil only for an empty buffer, and every
/// call site passes a zero length with it (or skips the call), which the C APIs accept.
@inline(__always)
func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
  buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
}

func withBuffers<R>(
  _ a: [UInt8], _ b: [UInt8], _ c: [UInt8],
  _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R
) rethrows -> R {
  try a.withUnsafeBytes { a in
    try b.withUnsafeBytes { b in try c.withUnsafeBytes { c in try body(a, b, c) } }
  }
}

/// The OpenSSL status funnel: 1 is success, anything else clears OpenSSL's thread-local
/// error queue (so a stale entry cannot surface in a later call) and throws.
func openSSLCheck(_ status: Int32, _ function: String) throws {
  if status != 1 {
    ERR_clear_error()
    throw CryptoError.library(function: function)
  }
}

/// The pointer of a `SecretBytes` buffer, which is never nil (its storage always allocates at
/// least one byte), for C parameters declared non-null.
@inline(__always)
func secretBytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8> {
  buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
}
