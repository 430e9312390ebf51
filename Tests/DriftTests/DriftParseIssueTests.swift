import Drift
import Foundation
import LockstepCore
import TestSupport
import Testing

/// Issue 11 item 5: a malformed `.env` (a pasted token without `=`, an unquoted PEM block)
/// is reported by line number and reason in every format and on stderr, never by its text.
@Suite struct DriftParseIssueTests {
  static let token = "ghp_R3aLlYs3cr3tT0k3nV4lu3xyz0123"
  static let pemLines = [
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7hostile",
    "QmFzZTY0Qm9keUxpbmVUd29XaXRob3V0U2xhc2hlcw",
    "dGhpcmRwZW1saW5lcGFkZGVk==",
  ]

  static func fixture() throws -> DriftFixture {
    let fixture = try DriftFixture.make()
    let env = """
      DATABASE_URL=postgres://db
      SESSION_SECRET=x
      \(token)
      TLS_KEY=-----BEGIN PRIVATE KEY-----
      \(pemLines.joined(separator: "\n"))
      -----END PRIVATE KEY-----

      """
    try env.write(toFile: fixture.root + "/hostile.env", atomically: true, encoding: .utf8)
    return fixture
  }

  static func leaks(_ text: String) -> Bool {
    text.contains("ghp_") || pemLines.contains { text.contains(String($0.prefix(16))) }
  }

  @Test(arguments: DriftFormat.allCases)
  func everyFormatNamesTheLineNotTheText(format: DriftFormat) throws {
    let fixture = try Self.fixture()
    let result = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "dotenv:hostile.env", "--format",
      format.rawValue,
    ])
    #expect(result.status == 2, "\(result.stderrText)")
    let all = result.stdoutText + result.stderrText
    #expect(!Self.leaks(all), "\(all)")
    #expect(all.contains("line 3"), "\(all)")
    #expect(all.contains("line 4"), "\(all)")
    if format == .github {
      #expect(
        result.stdoutText.contains("::warning title=lockstep drift,file=hostile.env,line=3::"))
    }
  }

  @Test func envKeysWarnsByLineOnly() throws {
    let fixture = try Self.fixture()
    let result = try fixture.run(["env", "keys", "dotenv:hostile.env"])
    #expect(result.status == 0, "\(result.stderrText)")
    #expect(result.stdoutText == "DATABASE_URL\nSESSION_SECRET\nTLS_KEY\n")
    #expect(result.stderrText.contains("line 3"))
    #expect(!Self.leaks(result.stdoutText + result.stderrText), "\(result.stderrText)")
  }
}
