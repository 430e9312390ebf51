import Foundation
import LockstepCore
import Testing

@testable import Rotation

/// The lock record read back from Vault is untrusted (issue 11), and a password policy's
/// classes are its whole alphabet (issue 17).
@Suite struct RotationLockRecordTests {
  func values(_ overrides: [String: String]) -> [String: SecretBytes] {
    var fields = [
      "rotation_id": "3f2a4b6c-1d2e-4f50-8a9b-0c1d2e3f4a5b", "owner": "alice", "host": "ops-1",
      "pid": "42", "started_at": "2026-12-01T10:00:00Z", "expires_at": "2026-12-01T11:00:00Z",
      "steps": "lock,stage,apply",
    ]
    fields.merge(overrides) { $1 }
    return fields.mapValues { SecretBytes(utf8: $0) }
  }

  @Test func aWellFormedRecordParses() throws {
    let record = try LockRecord.parse(values: values([:]))
    #expect(record.steps == ["lock", "stage", "apply"])
  }

  @Test(arguments: [
    ["rotation_id": "../../etc/ld.so.preload"],
    ["rotation_id": "3F2A4B6C-1D2E-4F50-8A9B-0C1D2E3F4A5B"],
    ["steps": "lock,promote"],
    ["steps": "lock,stage,rm -rf /"],
    ["steps": "lock,stage,apply,verify,deploy:default/../x"],
    ["steps": "lock,lock"],
    ["host": "ops\u{1B}[32m"],
    ["pid": "-1"],
    ["policy_sha256": "not-a-hash"],
  ])
  func aPlantedRecordIsRefused(_ override: [String: String]) {
    #expect(throws: LockRecord.Invalid.self) { try LockRecord.parse(values: values(override)) }
  }

  @Test func deployMarkersFollowPromote() throws {
    let record = try LockRecord.parse(
      values: values(["steps": "lock,stage,apply,verify,promote,deploy:default/aura-api"]))
    #expect(record.steps.last == "deploy:default/aura-api")
  }

  @Test func explicitClassesAreTheWholeAlphabet() throws {
    let policy = try RotationPolicy.parse(
      """
      version: 1
      vault: { secret: secret/a }
      rotate:
        - key: P
          generate: { password: 64, classes: [lower, upper, digit] }
        - key: Q
          generate: { password: 64, classes: [lower, digit, symbol] }
      """, file: "p.yaml")
    for _ in 0..<200 {
      let plain = try #require(policy.rotate[0].generator.generate().unsafeUTF8String())
      #expect(plain.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }, "\(plain.count)")
      let symbols = try #require(policy.rotate[1].generator.generate().unsafeUTF8String())
      #expect(!symbols.contains { $0.isUppercase })
    }
  }
}
