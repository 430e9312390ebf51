import LockstepCore

/// What stops a rotation; each description is the one sentence the user sees, and none
/// holds a secret value.
public enum RotationError: LockstepError, Equatable {
  case locked(path: String, holder: String, expired: Bool)
  case nothingToResume(lock: String)
  case unfinished(lock: String, holder: String)
  case liveSecretMissing(path: String)
  case preflight(String)
  case ownCredential(String)
  case casConflict(path: String, expected: Int, found: Int, staging: String)
  case verification(String)
  case stepFailed(step: String, reason: String)

  public var description: String {
    switch self {
    case .locked(let path, let holder, let expired):
      expired
        ? "the rotation lock \(path) is held by \(holder) and has expired; to take over and finish that rotation, run `lockstep rotate resume --force-unlock`"
        : "another rotation holds the lock \(path): \(holder)"
    case .nothingToResume(let lock):
      "there is no rotation to resume: the lock \(lock) is not held"
    case .unfinished(let lock, let holder):
      "an unfinished rotation holds the lock \(lock) (\(holder)); finish it with `lockstep rotate resume`"
    case .liveSecretMissing(let path):
      "the live secret \(path) does not exist in Vault"
    case .preflight(let why):
      "preflight failed, nothing was changed: \(why)"
    case .ownCredential(let why):
      "the policy would rotate the credential Lockstep itself uses (\(why)); use another login for the rotation"
    case .casConflict(let path, let expected, let found, let staging):
      "\(path) changed during the rotation (expected version \(expected), found \(found)); nothing was overwritten, the new values wait at \(staging); check the change, then run `lockstep rotate resume --rebase`"
    case .verification(let why):
      "verification failed: \(why)"
    case .stepFailed(let step, let reason):
      "step \(step) failed: \(reason); the rotation is resumable with `lockstep rotate resume`"
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .locked, .unfinished, .casConflict: .temporaryFailure
    case .nothingToResume, .liveSecretMissing, .preflight, .ownCredential, .stepFailed: .failure
    case .verification: .mismatch
    }
  }
}
