internal import CSodium
import LockstepCore

/// Argon2id cost parameters, stored next to the salt so a file can be opened with the
/// parameters it was made with, whatever the defaults are by then.
public struct Argon2idParameters: Sendable, Equatable {
  /// Passes over memory (libsodium `opslimit`).
  public var iterations: UInt32
  /// Memory in KiB (libsodium's `memlimit` is this times 1024).
  public var memoryKiB: UInt32

  public init(iterations: UInt32, memoryKiB: UInt32) {
    self.iterations = iterations
    self.memoryKiB = memoryKiB
  }

  /// libsodium's INTERACTIVE level (2 passes, 64 MiB): about 0.1 s here, and the file key
  /// it protects is random, so the passphrase is the only thing an attacker can guess.
  public static let interactive = Argon2idParameters(iterations: 2, memoryKiB: 64 * 1024)
  /// libsodium's MODERATE level (3 passes, 256 MiB).
  public static let moderate = Argon2idParameters(iterations: 3, memoryKiB: 256 * 1024)
  /// Cheap parameters for tests only: a file made with them is easy to brute-force.
  public static let testing = Argon2idParameters(iterations: 1, memoryKiB: 64)

  /// The limits a decoder accepts, so a hostile file cannot make it allocate 1 TiB or spin
  /// for hours.
  public var isWithinDecoderLimits: Bool {
    iterations >= 1 && iterations <= 64 && memoryKiB >= 8 && memoryKiB <= 4 * 1024 * 1024
  }
}

public enum Argon2id {
  public static let saltByteCount = 16

  public static func deriveKey(
    from passphrase: SecretBytes, salt: [UInt8], parameters: Argon2idParameters,
    outputByteCount: Int = 32
  ) throws -> SecretBytes {
    try CryptoError.check(salt.count, saltByteCount, "Argon2id salt")
    return try SecretBytes.filled(count: outputByteCount) { out in
      let status = try withSodium {
        passphrase.withUnsafeBytes { pass in
          crypto_pwhash(
            out, UInt64(outputByteCount),
            pass.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(pass.count),
            salt, UInt64(parameters.iterations), Int(parameters.memoryKiB) * 1024,
            crypto_pwhash_alg_argon2id13())
        }
      }
      guard status == 0 else { throw CryptoError.keyDerivationFailed }
    }
  }
}
