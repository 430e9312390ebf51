import Drift
import Foundation
import LockstepCore
import TestSupport
import Testing

/// Runs the built binary on the fixture repository: formats, exit codes, and that no value
/// of the fixture appears in any output.
@Suite struct DriftCLITests {
  let sources = [
    "--expect", "keys:env_keys.txt", "--against", "dotenv:.env", "code:{src,cmd}/**/*.{js,py,go}",
  ]

  @Test(arguments: DriftFormat.allCases)
  func everyFormatReportsDriftWithoutValues(format: DriftFormat) throws {
    let fixture = try DriftFixture.make()
    let result = try fixture.run(["drift"] + sources + ["--format", format.rawValue])
    #expect(result.status == 2, "\(result.stderrText)")
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
    let out = result.stdoutText
    for key in ["MINIO_SECRET_KEY", "LEGACY_TOKEN", "STRIPE_KEY", "FEATURE_FLAG"] {
      #expect(out.contains(key), "\(format) lacks \(key)")
    }
    #expect(!out.contains("IGNORED_DEPENDENCY_KEY"))
    switch format {
    case .github:
      #expect(out.contains("::error title=lockstep drift,file=src/billing.py,line=3::STRIPE_KEY"))
      #expect(
        out.contains("::warning title=lockstep drift,file=.env,line=9::EMPTY_OK has an empty value")
      )
    case .junit:
      #expect(out.hasPrefix("<?xml"))
      #expect(out.contains(#"<testcase classname="dotenv:.env" name="REDIS_URL"><failure"#))
    case .text:
      #expect(out.contains("redis_url differs only in case from the expected REDIS_URL"))
    case .json: break
    }
  }

  @Test func jsonListsExactlyTheKnownDrift() throws {
    let fixture = try DriftFixture.make()
    let result = try fixture.run(["drift"] + sources + ["--format", "json", "--direction", "both"])
    #expect(result.status == 2)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
    #expect(object["drift"] as? Bool == true)
    let report = try #require(object["report"] as? [String: Any])
    let results = try #require(report["sources"] as? [[String: Any]])
    func keys(_ index: Int, _ field: String) -> [String] {
      (results[index][field] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
    }
    #expect(keys(0, "missing") == ["MINIO_SECRET_KEY", "REDIS_URL"])
    #expect(keys(0, "extra") == ["LEGACY_TOKEN", "redis_url"])
    #expect(keys(1, "missing") == ["EMPTY_OK", "MINIO_SECRET_KEY"])
    #expect(keys(1, "extra") == ["FEATURE_FLAG", "STRIPE_KEY"])
  }

  @Test func exitCodes() throws {
    let fixture = try DriftFixture.make()
    let clean = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "keys:env_keys.txt",
    ])
    #expect(clean.status == 0)
    #expect(clean.stdoutText.contains("no drift"))
    let unreadable = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "dotenv:absent.env",
    ])
    #expect(unreadable.status == 1)
    #expect(unreadable.stderrText.contains("cannot read dotenv:absent.env"))
    let policy = try fixture.run([
      "drift", "--policy", "policies/drift/aura-sign.yaml", "--env", "production", "--format",
      "json",
    ])
    #expect(policy.status == 2)
    #expect(fixture.leaksNothing(policy.stdoutText + policy.stderrText))
    let policyClean = try fixture.run([
      "drift", "--policy", "policies/drift/aura-sign.yaml", "--env", "clean",
    ])
    #expect(policyClean.status == 0)
    let unknown = try fixture.run([
      "drift", "--policy", "policies/drift/aura-sign.yaml", "--env", "staging",
    ])
    #expect(unknown.status == 1)
    #expect(unknown.stderrText.contains("no environment staging"))
  }

  @Test func envKeysPrintsASortedInventoryWithoutValues() throws {
    let fixture = try DriftFixture.make()
    let result = try fixture.run(["env", "keys", "dotenv:.env"])
    #expect(result.status == 0)
    #expect(
      result.stdoutText
        == "DATABASE_URL\nEMPTY_OK\nIRON_SESSION_PASSWORD\nLEGACY_TOKEN\nMINIO_ACCESS_KEY\nSESSION_SECRET\nredis_url\n"
    )
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
    let environment = try fixture.run(
      ["env", "keys", "env:^LOCKSTEP_TEST_"],
      environment: [
        "LOCKSTEP_TEST_B": fixture.secrets[0], "LOCKSTEP_TEST_A": "x", "PATH": "/usr/bin:/bin",
      ])
    #expect(environment.stdoutText == "LOCKSTEP_TEST_A\nLOCKSTEP_TEST_B\n")
    #expect(fixture.leaksNothing(environment.stdoutText + environment.stderrText))
  }
}
