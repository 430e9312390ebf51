/// The process exit codes Lockstep documents in docs/cli.md. The numbers above 63 follow
/// BSD's sysexits.h so that scripts and schedulers can tell "fix the input" from "retry".
public enum ExitStatus: Int32, Sendable, CaseIterable {
  /// Everything asked for was done and every check passed.
  case success = 0
  /// A failure not covered below.
  case failure = 1
  /// The command ran, and what it checked disagrees: drift found, a verification failed.
  case mismatch = 2
  /// A bad flag or argument (argument-parser's own code for usage errors).
  case usage = 64
  /// An input file is malformed: a policy, a template, a `.env`, a backup.
  case dataError = 65
  /// A server could not be reached, or answered that it is unavailable (sealed Vault).
  case unavailable = 69
  /// Another actor holds the lock or changed the data first (CAS): try again later.
  case temporaryFailure = 75
  /// Authentication failed or a permission was denied.
  case noPermission = 77
}

/// Every error a user can cause conforms: `description` is the one sentence printed on
/// stderr (never a secret value), `exitStatus` the documented code.
public protocol LockstepError: Error, CustomStringConvertible {
  var exitStatus: ExitStatus { get }
}

/// A generic one-sentence error for places that need no type of their own.
public struct UserError: LockstepError, Equatable {
  public let description: String
  public let exitStatus: ExitStatus

  public init(_ description: String, exit: ExitStatus = .failure) {
    self.description = description
    self.exitStatus = exit
  }
}
