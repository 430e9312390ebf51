import Evidence
import Foundation
import LockstepCore

extension Rotator {
  /// The apply part of each hook (docs/rotation.md, "Hooks"): the staged values on the
  /// hook's stdin, the attempt counted from the trail (a `started` record, copied to the
  /// lock before the hook runs, so a resume on any machine knows it may have run), and
  /// `hook:NAME` marked done after success so a resume does not call it again.
  func applyHooks() throws {
    guard !policy.hooks.isEmpty, let lock else { return }
    let live = try store.read(policy.vault.secret)
    for hook in policy.hooks {
      let marker = "hook:\(hook.name)"
      if lock.steps.contains(marker) { continue }
      try stopIfInterrupted(before: marker)
      currentTarget = "hook \(hook.name)"
      let attempt = previousAttempts(of: hook) + 1
      var invocation = HookInvocation(
        rotationID: lock.rotationID, secretPath: policy.vault.secret, strategy: policy.strategy,
        attempt: attempt, resumed: attempt > 1, newValues: [:])
      for key in hook.keys { invocation.newValues[key] = staged[key] }
      // The old values are the live ones until promote; on a resume after promote they are
      // gone from the live secret, and the hook is told only the new ones.
      if hook.sendOld, let live {
        for key in hook.keys where live.values[key] != staged[key] {
          invocation.oldValues[key] = live.values[key]
        }
      }
      for key in hook.contextKeys { invocation.context[key] = live?.values[key] }
      try evidence?.record(
        step: "apply", target: "hook \(hook.name)", outcome: "started",
        details: ["attempt": attempt, "resumed": attempt > 1, "keys": hook.keys])
      syncEvidence()
      let outcome = try HookRunner().run(hook, invocation)
      try evidence?.record(
        step: "apply", target: "hook \(hook.name)", outcome: "ok",
        details: outcome.evidence.merging(["keys": hook.keys]) { $1 })
      report(
        "apply", .info, "hook \(hook.name): \(outcome.summary.isEmpty ? "done" : outcome.summary)")
      try markDone(marker)
    }
  }

  /// How many times the trail says `hook` was started in this rotation.
  func previousAttempts(of hook: HookSpec) -> Int {
    let chain = evidence?.contents() ?? lock?.evidenceChain ?? ""
    var count = 0
    for line in chain.split(separator: "\n") {
      guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      else { continue }
      if record["target"] as? String == "hook \(hook.name)",
        record["outcome"] as? String == "started"
      {
        count += 1
      }
    }
    return count
  }
}
