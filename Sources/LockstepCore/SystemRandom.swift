internal import CSystem

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The operating system's cryptographic random generator. `getrandom` blocks only until the
/// kernel pool is initialised at boot and never fails on a short read for requests of at
/// most 256 bytes; the loop covers larger ones and EINTR.
public enum SystemRandom {
  public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
    guard var base = buffer.baseAddress else { return }
    var remaining = buffer.count
    while remaining > 0 {
      let got = lockstep_getrandom(base, UInt(remaining))
      if got < 0 {
        if errno == EINTR { continue }
        fatalError("getrandom failed with errno \(errno); no safe source of randomness")
      }
      base += Int(got)
      remaining -= Int(got)
    }
  }

  /// A uniformly distributed integer in `0..<upperBound`, by rejection sampling so that no
  /// value is more likely than another (no modulo bias).
  public static func uniform(below upperBound: UInt32) -> UInt32 {
    precondition(upperBound > 0)
    let limit = UInt32.max - (UInt32.max % upperBound)
    while true {
      var value: UInt32 = 0
      withUnsafeMutableBytes(of: &value) { fill($0) }
      if value < limit { return value % upperBound }
    }
  }
}
