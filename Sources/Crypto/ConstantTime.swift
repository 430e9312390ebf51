internal import CSodium

/// Comparison of public-length byte strings (MACs, tags) whose time does not depend on
/// where they differ, so an attacker cannot learn a valid MAC byte by byte.
public enum ConstantTime {
  public static func equal(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    if lhs.isEmpty { return true }
    return lhs.withUnsafeBytes { a in
      rhs.withUnsafeBytes { b in sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 }
    }
  }
}
