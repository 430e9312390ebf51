internal import CSodium
import LockstepCore

/// Public values (random nonces, salts) from libsodium's generator. Keys use
/// `SecretBytes.random(count:)`, which comes from the same kernel source.
public enum CryptoRandom {
  public static func bytes(count: Int) -> [UInt8] {
    precondition(sodiumInitialised, "libsodium failed to initialise")
    var result = [UInt8](repeating: 0, count: count)
    result.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
    return result
  }
}
