import LockstepCore

extension SecretBytes {
  /// A secret produced by a C call writing into a fresh buffer of `count` bytes.
  static func filled(
    count: Int, _ body: (UnsafeMutablePointer<UInt8>) throws -> Void
  ) throws -> SecretBytes {
    let secret = try SecretBytes(count: count) { buffer in
      try body(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }
    return secret
  }

  /// The base address as the `const unsigned char *` C expects.
  func withBytePointer<R>(_ body: (UnsafePointer<UInt8>) throws -> R)
    throws -> R
  {
    try withUnsafeBytes { raw in
      try body(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }
  }
}

extension SecretBytes {
  /// The first `count` bytes as a new secret, copied without an intermediate array.
  public func prefix(_ count: Int) -> SecretBytes {
    slice(0, Swift.min(count, self.count))
  }

  /// The last `count` bytes as a new secret.
  public func suffix(_ count: Int) -> SecretBytes {
    let count = Swift.min(count, self.count)
    return slice(self.count - count, count)
  }

  private func slice(_ start: Int, _ count: Int) -> SecretBytes {
    withUnsafeBytes { source in
      SecretBytes(count: count) { target in
        if count > 0 {
          target.baseAddress!.copyMemory(from: source.baseAddress! + start, byteCount: count)
        }
      }
    }
  }
}
