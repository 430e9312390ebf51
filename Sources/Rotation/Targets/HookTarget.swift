import Foundation
import LockstepCore

/// `targets.hooks`: a program that makes a system Lockstep does not speak accept rotated
/// values (docs/rotation.md, "Hooks"). Runs at apply, before the live secret changes, with
/// the staged values on its stdin only (`HookRunner`); the evidence gets its exit status
/// and a value-free summary. A resumed rotation calls it again with the same values and
/// tells it so (`attempt`, `resumed`).
public struct HookTarget: RotationTarget {
  public static let section = "hooks"
  static let system = "Hooks"

  public var spec: HookSpec

  public init(spec: HookSpec) { self.spec = spec }

  public static func parse(_ node: PolicyNode) throws(PolicyError) -> HookTarget {
    HookTarget(spec: try HookSpec.parse(node))
  }

  public var label: String { "hook \(spec.name)" }
  public func appliedKeys(in policy: RotationPolicy) -> [String] { spec.keys }
  public var id: String { "hook:\(spec.name)" }

  public func preflight(_ context: PreflightContext) async -> [PreflightCheck] {
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: spec.executable, isDirectory: &isDirectory)
    guard exists, !isDirectory.boolValue, access(spec.executable, X_OK) == 0 else {
      return [
        .fail(
          Self.system, label, "\(spec.executable) is not an executable file (the policy's run:)")
      ]
    }
    if let live = context.live {
      let missing = spec.contextKeys.filter { live.values[$0] == nil }
      if !missing.isEmpty {
        return [
          .fail(
            Self.system, label,
            "context key(s) \(missing.joined(separator: ", ")) are not in \(context.policy.vault.secret)"
          )
        ]
      }
    }
    return [.pass(Self.system, label, "\(spec.executable) is executable")]
  }

  public func apply(_ context: StepContext) async throws -> [TargetEvidence] {
    var invocation = HookInvocation(
      rotationID: context.rotationID, secretPath: context.policy.vault.secret,
      strategy: context.policy.strategy, attempt: context.attempt,
      resumed: context.attempt > 1, newValues: [:])
    for key in spec.keys { invocation.newValues[key] = context.staged[key] }
    // Apply runs before promote, so the live secret still holds the old values (on a
    // resume after a crash in apply, too).
    let live = try await context.services.store?.read(context.policy.vault.secret)
    if spec.sendOld, let live {
      for key in spec.keys where live.values[key] != context.staged[key] {
        invocation.oldValues[key] = live.values[key]
      }
    }
    for key in spec.contextKeys { invocation.context[key] = live?.values[key] }
    let outcome = try await HookRunner().run(spec, invocation)
    context.progress("\(label): \(outcome.summary.isEmpty ? "done" : outcome.summary)")
    return [
      TargetEvidence(
        target: label,
        details: [
          "exit_status": .number(Int(outcome.status)), "summary": .text(outcome.summary),
          "summary_withheld": .flag(outcome.summaryWithheld), "attempt": .number(outcome.attempt),
          "resumed": .flag(outcome.resumed), "milliseconds": .number(outcome.milliseconds),
          "keys": .list(spec.keys),
        ])
    ]
  }

  public func undo(_ context: StepContext) async throws -> (undone: [String], notUndone: [String]) {
    ([], ["\(label) may have applied the new values at its system; Lockstep cannot take them back"])
  }

  public func plan(_ context: PlanContext) -> [PlanLine] {
    [
      PlanLine(
        .apply,
        "\(label): run \(spec.executable) with \(spec.keys.joined(separator: ", ")) on stdin (timeout \(spec.timeout))"
      )
    ]
  }
}

extension RotationPolicy {
  /// The hooks of the policy.
  public var hooks: [HookSpec] { targets(HookTarget.self).map(\.spec) }
}
