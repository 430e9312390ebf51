import LockstepCore

/// Every failure of the Crypto module. Callers that know the context (a backup, a legacy
/// file) wrap these in their own errors; the sentences here stay true in any context and
/// never carry key material.
public enum CryptoError: LockstepError, Equatable {
  /// An AEAD tag, sealed box, secret box or CBC padding did not check out.
  case authenticationFailed
  /// An Ed25519 signature did not verify.
  case invalidSignature
  /// A key, nonce or tag had the wrong length; `what` names the parameter, never its value.
  case invalidLength(what: String, expected: Int, actual: Int)
  /// Argon2id could not allocate the memory its parameters ask for.
  case keyDerivationFailed
  /// A private key could not be read; `reason` never quotes the key.
  case invalidKey(String)
  /// A call into OpenSSL or libsodium failed where it should not (out of memory, bad state).
  case library(function: String)

  public var description: String {
    switch self {
    case .authenticationFailed:
      "the data could not be decrypted: wrong key or passphrase, or the data was altered"
    case .invalidSignature:
      "the Ed25519 signature does not match the data and the signing key"
    case .invalidLength(let what, let expected, let actual):
      "the \(what) must be \(expected) bytes long, not \(actual)"
    case .keyDerivationFailed:
      "the passphrase key derivation (Argon2id) failed: not enough memory for its parameters"
    case .invalidKey(let reason):
      reason
    case .library(let function):
      "the cryptographic library failed in \(function)"
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .authenticationFailed: .noPermission
    case .invalidSignature: .mismatch
    case .invalidLength, .invalidKey: .dataError
    case .keyDerivationFailed, .library: .failure
    }
  }

  static func check(_ length: Int, _ expected: Int, _ what: String) throws {
    if length != expected {
      throw CryptoError.invalidLength(what: what, expected: expected, actual: length)
    }
  }
}
