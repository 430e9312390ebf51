import Rotation
import Testing

/// Issue 11 item 6: a policy whose session pattern has no literal prefix fails to load, so
/// the rotation stops before any change rather than at the invalidate step.
@Suite struct RedisPatternPolicyTests {
  @Test(arguments: ["'?*'", "'**'", "'[a-z]*'"])
  func aWildcardOnlyPatternIsAPolicyError(pattern: String) {
    let yaml =
      "version: 1\nvault: { secret: secret/a }\nrotate:\n  - key: A\n    generate: { bytes: 32 }\ntargets:\n  redis:\n    - pattern: \(pattern)\n"
    do {
      _ = try RotationPolicy.parse(yaml, file: "policy.yaml")
      Issue.record("accepted \(pattern)")
    } catch {
      #expect(error.description.contains("must begin with a literal prefix"), "\(error)")
      #expect(error.exitStatus == .dataError)
    }
  }
}
