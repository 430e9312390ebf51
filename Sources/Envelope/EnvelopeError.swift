import LockstepCore

/// Everything that can go wrong reading or writing an envelope, each as the one sentence a
/// user sees. Exit codes: 77 when no given key opens the file (wrong identity or
/// passphrase), 2 when the file was opened but fails an integrity check (altered,
/// truncated, reordered, bad signature), 65 when it is not a file this version can read.
public enum EnvelopeError: LockstepError, Equatable {
  case notAnEnvelope
  case unsupportedVersion(UInt8)
  case malformedHeader(String)
  case noMatchingIdentity
  case headerAltered
  case chunkAltered(index: UInt64)
  case truncated
  case signatureInvalid
  case notSigned
  case wrongSigner
  case invalidRecipient(String)
  case invalidKeyFile(path: String, expected: String)
  case legacyWrongPassphrase
  case legacyAmbiguous
  case io(String)

  public var description: String {
    switch self {
    case .notAnEnvelope:
      "the input is not a lockstep envelope (it does not start with the LOCKSTEP magic bytes)"
    case .unsupportedVersion(let version):
      "the envelope uses format version \(version), which this version of lockstep cannot read"
    case .malformedHeader(let reason):
      "the envelope header is malformed: \(reason)"
    case .noMatchingIdentity:
      "the backup could not be decrypted: wrong identity or passphrase, or the file was altered"
    case .headerAltered:
      "the envelope header failed its integrity check: the file was altered"
    case .chunkAltered(let index):
      "chunk \(index) of the payload failed authentication: the file was altered, reordered or has data appended"
    case .truncated:
      "the envelope is truncated: its final chunk is missing"
    case .signatureInvalid:
      "the envelope's Ed25519 signature does not verify: the file was altered after it was signed"
    case .notSigned:
      "the envelope is not signed, but a signing key was given to check it against"
    case .wrongSigner:
      "the envelope was signed by a different key than the one given"
    case .invalidRecipient(let text):
      "'\(text)' is not a lockstep recipient (expected lockstep1… from `lockstep keygen`)"
    case .invalidKeyFile(let path, let expected):
      "\(path) is not \(expected)"
    case .legacyWrongPassphrase:
      "the legacy openssl file could not be decrypted with md5, sha256 or pbkdf2 key derivation: wrong passphrase, or the file was altered"
    case .legacyAmbiguous:
      "the legacy openssl file decrypts under more than one key derivation: name one with --legacy-kdf"
    case .io(let sentence):
      sentence
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .notAnEnvelope, .unsupportedVersion, .malformedHeader, .invalidKeyFile: .dataError
    case .noMatchingIdentity, .legacyWrongPassphrase: .noPermission
    case .headerAltered, .chunkAltered, .truncated, .signatureInvalid, .notSigned, .wrongSigner:
      .mismatch
    case .invalidRecipient, .legacyAmbiguous: .usage
    case .io: .failure
    }
  }
}
