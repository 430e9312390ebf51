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
  /// The lock record read from Vault does not pass validation (planted or damaged).
  case untrustedLock(path: String, reason: String)
  case wrongSigningKey(expected: String)
  case promotedAlready(lock: String)
  /// SIGINT or SIGTERM: stopped at a step boundary; `resume` is nil when no lock was taken.
  case interrupted(signal: String, before: String, resume: String?)

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
    case .untrustedLock(let path, let reason):
      "the lock \(path) is not trusted, nothing was changed: \(reason); inspect it, and if no rotation of yours wrote it, delete it with `bao kv metadata delete \(path)`"
    case .interrupted(let signal, let before, let resume?):
      "stopped by \(signal) before \(before), every completed step recorded; continue with: \(resume)"
    case .interrupted(let signal, _, nil):
      "stopped by \(signal) before the lock was taken; nothing was changed"
    case .promotedAlready(let lock):
      "the rotation holding \(lock) has promoted its new values to the live secret, so it cannot be aborted; finish it with `lockstep rotate resume`"
    case .wrongSigningKey(let expected):
      "this rotation's evidence is sealed with \(expected); resume it with that --signing-key"
    case .stepFailed(let step, let reason):
      "step \(step) failed: \(reason); the rotation is resumable with `lockstep rotate resume`"
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .locked, .unfinished, .casConflict, .interrupted: .temporaryFailure
    case .nothingToResume, .liveSecretMissing, .preflight, .ownCredential, .stepFailed,
      .wrongSigningKey, .promotedAlready:
      .failure
    case .untrustedLock: .dataError
    case .verification: .mismatch
    }
  }
}
