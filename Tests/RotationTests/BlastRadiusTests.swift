import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Rotation

/// Issue 13, "blast radius in the plan": every key of the leaked secret accounted for.
@Suite struct BlastRadiusTests {
  static let policyText = """
    version: 1
    vault: { secret: MOUNT/app }
    rotate:
      - key: SESSION_SECRET
        generate: { bytes: 32 }
      - key: DATABASE_PASSWORD
        generate: { password: 24 }
      - key: API_TOKEN
        generate: { password: 40 }
    derive:
      - key: DATABASE_URL
        url_password: DATABASE_PASSWORD
    keep:
      - key: ENDPOINT
        reason: a URL, not a credential
    manual:
      - key: SMTP_PASSWORD
        instructions: new password in the relay's console
    targets:
      postgres:
        - role: app
          password_key: DATABASE_PASSWORD
      hooks:
        - name: provider
          run: ./hooks/provider.sh
          keys: [API_TOKEN]

    """

  @Test func everyKeyIsClassified() throws {
    let policy = try RotationPolicy.parse(Self.policyText, file: "p.yaml")
    let radius = BlastRadius.assess(
      policy: policy,
      liveKeys: [
        "SESSION_SECRET", "DATABASE_PASSWORD", "DATABASE_URL", "API_TOKEN", "ENDPOINT",
        "SMTP_PASSWORD", "FORGOTTEN",
      ],
      secretKeys: [("default/app", ["SESSION_SECRET", "EXTRA_IN_K8S"])])
    let accounts = Dictionary(uniqueKeysWithValues: radius.entries.map { ($0.key, $0.account) })
    #expect(accounts["SESSION_SECRET"] == .rotated)
    #expect(accounts["DATABASE_PASSWORD"] == .rotatedByTarget("postgres role app"))
    #expect(accounts["API_TOKEN"] == .rotatedByTarget("hook provider"))
    #expect(accounts["DATABASE_URL"] == .derived(["DATABASE_PASSWORD"]))
    #expect(accounts["ENDPOINT"] == .kept("a URL, not a credential"))
    #expect(accounts["SMTP_PASSWORD"] == .manual("new password in the relay's console"))
    #expect(accounts["FORGOTTEN"] == .unaccounted)
    #expect(accounts["EXTRA_IN_K8S"] == .unaccounted)
    #expect(radius.unaccounted.map(\.key) == ["FORGOTTEN", "EXTRA_IN_K8S"])
    let sentence = try #require(radius.unaccountedSentence(policy: policy))
    #expect(sentence.contains("FORGOTTEN, EXTRA_IN_K8S (kubernetes secret default/app)"))
  }

  @Test(arguments: [
    (
      "keep:\n  - key: SESSION_SECRET\n    reason: x\n",
      "p.yaml: keep SESSION_SECRET: the key is also rotated"
    ),
    ("keep:\n  - key: OTHER\n", "p.yaml:3: keep[0]: missing required field \"reason\""),
    (
      "manual:\n  - key: A\n  - key: A\n", "p.yaml: manual A: the key is also a manual follow-up"
    ),
    (
      "targets:\n  hooks:\n    - { name: h, run: ./h.sh, keys: [NOT_ROTATED] }\n",
      "p.yaml: targets.hooks h: key NOT_ROTATED is not a rotated key (a hook applies values Lockstep generates)"
    ),
    (
      "targets:\n  hooks:\n    - { name: h, run: h.sh, keys: [SESSION_SECRET] }\n",
      "p.yaml:4: targets.hooks[0].run: give the hook's path (absolute, or ./relative to the working directory), not a name looked up on PATH"
    ),
    (
      "targets:\n  hooks:\n    - { name: h, run: ./h.sh, keys: [SESSION_SECRET], pass_env: [VAULT_TOKEN] }\n",
      "p.yaml:4: targets.hooks[0].pass_env[0]: VAULT_TOKEN is Lockstep's own credential and is never passed to a hook"
    ),
  ])
  func accountingMistakesAreRefused(extra: String, message: String) throws {
    let text = """
      version: 1
      vault: { secret: secret/app }
      rotate:
        - key: SESSION_SECRET
          generate: { bytes: 32 }

      """
    // The extra section goes first so its line numbers are stable.
    let yaml = "# x\n" + extra + text
    #expect(throws: PolicyError.self) { try RotationPolicy.parse(yaml, file: "p.yaml") }
    do {
      _ = try RotationPolicy.parse(yaml, file: "p.yaml")
    } catch {
      #expect(error.description == message)
    }
  }

  /// The Done-when line: `rotate plan` on a policy that forgets one key of the live secret
  /// exits non-zero naming it, against a real OpenBao.
  @Test func planFailsNamingAForgottenKeyOfTheLiveSecret() async throws {
    let vault = try await VaultTesting.shared()
    let mount = try vault.freshMount()
    let directory = try TemporaryDirectory.make(prefix: "blast")
    try vault.call(
      "POST", "\(mount)/data/app",
      body: """
        {"data":{"SESSION_SECRET":"s","DATABASE_PASSWORD":"p","DATABASE_URL":"postgresql://app:p@h/db",
        "API_TOKEN":"t","ENDPOINT":"https://e","SMTP_PASSWORD":"m","FORGOTTEN_KEY":"f"}}
        """)
    let policy = directory + "/policy.yaml"
    try Self.policyText.replacingOccurrences(of: "MOUNT", with: mount).write(
      toFile: policy, atomically: true, encoding: .utf8)
    let environment = [
      "VAULT_ADDR": vault.address, "VAULT_TOKEN": VaultTesting.rootToken, "HOME": directory,
      "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "NO_COLOR": "1",
    ]
    let plan = try await ChildProcess.runDetached(
      Repository.lockstepBinary, ["rotate", "plan", "--policy", policy],
      environment: environment, timeout: .seconds(60))
    #expect(plan.status == 2, "\(plan.stderrText)")
    #expect(plan.stderrText.contains("the policy says nothing of FORGOTTEN_KEY"))
    #expect(plan.stdoutText.contains("SMTP_PASSWORD"))
    #expect(plan.stdoutText.contains("manual follow-up: new password in the relay's console"))
    #expect(plan.stdoutText.contains("API_TOKEN"))
    #expect(plan.stdoutText.contains("rotated by a target: hook provider"))

    let json = try await ChildProcess.runDetached(
      Repository.lockstepBinary, ["rotate", "plan", "--policy", policy, "--json"],
      environment: environment, timeout: .seconds(60))
    #expect(json.status == 2)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any])
    #expect(object["unaccounted"] as? [String] == ["FORGOTTEN_KEY"])
    #expect(object["complete"] as? Bool == false)
    let classes = (object["keys"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
      $0[$1["key"] as? String ?? ""] = $1["class"] as? String
    }
    #expect(classes["ENDPOINT"] == "kept")
    #expect(classes["DATABASE_URL"] == "derived")
    #expect(!json.stdoutText.contains("postgresql://app:p@h/db"))

    // Accounted for (kept with a reason), the plan passes.
    let fixed = Self.policyText.replacingOccurrences(of: "MOUNT", with: mount).replacingOccurrences(
      of: "keep:\n", with: "keep:\n  - key: FORGOTTEN_KEY\n    reason: retired, unused\n")
    try fixed.write(toFile: policy, atomically: true, encoding: .utf8)
    let passing = try await ChildProcess.runDetached(
      Repository.lockstepBinary, ["rotate", "plan", "--policy", policy],
      environment: environment, timeout: .seconds(60))
    #expect(passing.status == 0, "\(passing.stderrText)")
    #expect(passing.stdoutText.contains("kept: retired, unused"))
  }
}
