import Crypto
import Evidence
import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// The compromise response as a state machine (DESIGN.md, "Rotation protocol").
///
/// One file per step (`Rotator+Stage.swift`, `+Apply`, `+Verify`, `+Promote`, `+Deploy`,
/// `+Invalidate`, `+Finish`; the lock in `+Lock`, the loop in `+Run`); the systems changed
/// are the policy's targets (`Targets/`), which the steps call without knowing their kind.
///
/// Every step is idempotent and its completion is recorded in the Vault lock record before
/// the next one starts, so a crash anywhere leaves a state that `resume` finishes: the new
/// values are in Vault (staging) before any system is changed, PostgreSQL is changed before
/// Vault's live secret is, and the live secret is written with check-and-set.
public final class Rotator {
  public enum Step: String, CaseIterable, Sendable {
    case lock, stage, apply, verify, promote, deploy, invalidate, finish
  }

  public struct Options: Sendable {
    public var forceUnlock = false
    /// On a CAS conflict at promote, write onto the newer live version (keeping its other
    /// changes) instead of stopping.
    public var rebase = false
    /// `LOCKSTEP_FAULT=<step>:<before|after>`: die at that point (tests).
    public var fault: (step: String, when: String)?
    public var stateDirectory: String
    public var evidenceDirectory: String
    /// SHA-256 (hex) of the policy file, recorded in the lock and in every evidence record,
    /// so a policy changed between attempts shows in the trail.
    public var policyDigest = ""
    /// The signing key's public form (`lockstepsig1…`), recorded in the lock so that
    /// `status` names it and `resume` with another key is refused.
    public var signer = ""
    /// The signing key's path as given (absolute), for the resume command `status` prints.
    public var signingKeyFile = ""
    /// Set by the command's SIGINT/SIGTERM handler; checked between steps.
    public var interrupt: RotationInterrupt?
    /// The exact command that continues this rotation, for the interruption's sentence.
    public var resumeCommand = "lockstep rotate resume"

    public init(stateDirectory: String, evidenceDirectory: String) {
      self.stateDirectory = stateDirectory
      self.evidenceDirectory = evidenceDirectory
      if let spec = ProcessInfo.processInfo.environment["LOCKSTEP_FAULT"] {
        let parts = spec.split(separator: ":").map(String.init)
        if parts.count == 2 { fault = (parts[0], parts[1]) }
      }
    }
  }

  /// One line of progress for the terminal.
  public struct Progress: Sendable {
    public enum State: String, Sendable { case started, done, skipped, info }
    public let step: String
    public let state: State
    public let message: String
    public let elapsed: Duration?
  }

  public struct Summary: Sendable {
    public var rotationID: String
    public var evidencePath: String
    public var liveVersion: Int
    public var stepTimes: [(String, Duration)]
    public var sessionsRemoved: Int
  }

  /// What a step did, for the loop: evidence records (written before the step is marked
  /// done) and a line of progress.
  struct StepResult: Sendable {
    var records: [TargetEvidence] = []
    var note: String?
  }

  let policy: RotationPolicy
  let services: RotationServices
  let store: any SecretStore
  let signingKey: Ed25519KeyPair
  let options: Options
  let progress: @Sendable (Progress) -> Void
  let clock = ContinuousClock()

  var keeper: LockKeeper?
  var lock: LockRecord? { keeper?.record }
  var evidence: EvidenceLog?
  var staged: [String: SecretBytes] = [:]
  var baseVersion = 0
  var summary: Summary?
  /// What the running step is working on, for the evidence of a failure.
  var currentTarget: String?
  /// Shared by the targets of the running step (`StepContext.firstTime`).
  var memo = StepContext.Memo()

  static let reservedPrefix = "_lockstep_"

  public init(
    policy: RotationPolicy, store: any SecretStore, services: RotationServices,
    signingKey: Ed25519KeyPair, options: Options,
    progress: @escaping @Sendable (Progress) -> Void = { _ in }
  ) {
    self.policy = policy
    self.store = store
    var services = services
    services.store = store
    self.services = services
    self.signingKey = signingKey
    self.options = options
    self.progress = progress
  }
}
