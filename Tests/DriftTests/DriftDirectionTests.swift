import Drift
import Foundation
import LockstepCore
import TestSupport
import Testing

/// Issue 17 item 6: code against an inventory fails only for keys the code uses and the
/// inventory lacks; `--direction` chooses the way explicitly. Item 8: an unreadable source
/// is a GitHub annotation too.
@Suite struct DriftDirectionTests {
  func keys(_ result: ChildProcess.Result, _ field: String) throws -> [String] {
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
    let report = try #require(object["report"] as? [String: Any])
    let sources = try #require(report["sources"] as? [[String: Any]])
    return (sources[0][field] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
  }

  @Test func codeAgainstTheInventoryChecksOnlyTheCodesKeysByDefault() throws {
    let fixture = try DriftFixture.make()
    let code = ["drift", "--expect", "keys:env_keys.txt", "--against", "code:src/**/*.js"]
    // src/server.js names three inventory keys and nothing else: in sync by default.
    let auto = try fixture.run(code + ["--format", "json"])
    #expect(auto.status == 0, "\(auto.stdoutText)\(auto.stderrText)")
    #expect(try keys(auto, "missing") == [])
    let text = try fixture.run(code)
    #expect(text.stdoutText.contains("in sync (checked: its keys are expected)"))
    // Both ways: every inventory key the code does not name is drift.
    let both = try fixture.run(code + ["--format", "json", "--direction", "both"])
    #expect(both.status == 2)
    #expect(try keys(both, "missing").contains("MINIO_SECRET_KEY"))
  }

  @Test func aKeyTheCodeUsesAndTheInventoryLacksStillFails() throws {
    let fixture = try DriftFixture.make()
    let result = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "code:{src,cmd}/**/*.{js,py,go}",
      "--format", "github",
    ])
    #expect(result.status == 2)
    #expect(
      result.stdoutText.contains(
        "::error title=lockstep drift,file=src/billing.py,line=3::STRIPE_KEY"))
    #expect(!result.stdoutText.contains("MINIO_SECRET_KEY"))
  }

  @Test func expectToAgainstIgnoresExtraKeys() throws {
    let fixture = try DriftFixture.make()
    let result = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "dotenv:.env", "--direction",
      "expect-to-against", "--format", "json",
    ])
    #expect(result.status == 2)
    #expect(try keys(result, "missing") == ["MINIO_SECRET_KEY", "REDIS_URL"])
    #expect(try keys(result, "extra") == [])
    let bad = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "dotenv:.env", "--direction", "up",
    ])
    #expect(bad.status == 64)
  }

  @Test func aPolicyEnvironmentCanNameItsDirection() throws {
    let fixture = try DriftFixture.make()
    try """
    environments:
      code:
        expect: keys:env_keys.txt
        against: [dotenv:.env]
        direction: against-to-expect
    """.write(toFile: fixture.root + "/direction.yaml", atomically: true, encoding: .utf8)
    let result = try fixture.run([
      "drift", "--policy", "direction.yaml", "--env", "code", "--format", "json",
    ])
    #expect(result.status == 2)
    #expect(try keys(result, "missing") == [])
    #expect(try keys(result, "extra") == ["LEGACY_TOKEN", "redis_url"])
  }

  @Test func anUnreadableSourceIsAnAnnotation() throws {
    let fixture = try DriftFixture.make()
    let result = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "dotenv:absent.env", "--format",
      "github",
    ])
    #expect(result.status == 1)
    #expect(
      result.stdoutText.hasPrefix("::error title=lockstep drift::cannot read dotenv:absent.env"),
      "\(result.stdoutText)")
    #expect(result.stderrText.contains("cannot read dotenv:absent.env"))
  }
}
