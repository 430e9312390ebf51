internal import CSodium
import LockstepCore

/// libsodium must be initialised once before use (it picks CPU-specific implementations and
/// opens the random source). A global `let` is initialised lazily and exactly once, also
/// under concurrent first use, so every entry point just reads it.
let sodiumInitialised: Bool = sodium_init() >= 0

/// Calls into libsodium go through this so that no path can skip initialisation.
@inline(__always)
func withSodium<R>(_ body: () throws -> R) throws -> R {
  guard sodiumInitialised else { throw CryptoError.library(function: "sodium_init") }
  return try body()
}
