import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Rotation

@Suite struct RotationPolicyTests {
  @Test func theShippedPolicyParses() throws {
    let path = Repository.root + "/policies/rotation/aura-sign.yaml"
    let policy = try RotationPolicy.parse(String(contentsOfFile: path, encoding: .utf8), file: path)
    #expect(policy.vault.secret == "secret/aura/production")
    #expect(policy.vault.staging == "secret/lockstep/staging/aura/production")
    #expect(policy.vault.lock == "secret/lockstep/locks/aura/production")
    #expect(
      policy.rotate.map(\.key) == [
        "SESSION_SECRET", "IRON_SESSION_PASSWORD", "DATABASE_PASSWORD", "REDIS_PASSWORD",
      ])
    #expect(policy.rotate[0].generator == .randomBytes(count: 32, encoding: .base64))
    #expect(policy.derive.map(\.key) == ["DATABASE_URL", "REDIS_URL"])
    #expect(
      policy.targets.compactMap { ($0 as? RedisUserTarget)?.user } == ["aura"],
      "the application's Redis ACL user is rotated too")
    #expect(policy.manual.map(\.key) == ["MINIO_SECRET_KEY", "SMTP_PASSWORD"])
    #expect(policy.postgres.map(\.role) == ["aura"])
    #expect(policy.kubernetes.map(\.deployment) == ["aura-api", "aura-worker"])
    #expect(policy.kubernetes[0].rolloutTimeout == .seconds(300))
    #expect(policy.redis.first?.pattern == "sess:*")
    #expect(policy.strategy == .single)
  }

  @Test(arguments: [
    ("version: 2\n", "policy.yaml:1: version: only version 1 is known"),
    (
      "version: 1\nvault: { secret: secret/a }\nrotate:\n  - key: A\n    generate: { bytes: 8 }\n",
      "policy.yaml:5: rotate[0].generate: invalid secret generator: random byte count must be between 16 and 4096, not 8"
    ),
    (
      "version: 1\nvault: { secret: secret/a }\nrotat: []\n",
      "policy.yaml:3: rotat: unknown field (expected one of: derive, keep, manual, name, rotate, strategy, targets, vault, version)"
    ),
    (
      "version: 1\nvault: { secret: nomount }\nrotate: []\n",
      "policy.yaml:2: vault.secret: expected MOUNT/PATH, like secret/aura/production"
    ),
    (
      "version: 1\nvault: { secret: secret/a }\nrotate:\n  - key: 9BAD\n    generate: { bytes: 32 }\n",
      "policy.yaml:4: rotate[0].key: \"9BAD\" is not a valid key name (letters, digits, _)"
    ),
    (
      "version: 1\nvault: { secret: secret/a }\nrotate:\n  - key: A\n    generate: { bytes: 32 }\ntargets:\n  redis:\n    - pattern: 'x*'\n      flush_database: true\n",
      "policy.yaml:8: targets.redis[0]: give a key pattern, or flush_database: true (which wipes every key), not both"
    ),
    (
      "version: 1\n  bad: [\n",
      "policy.yaml: not valid YAML: line 2: mapping values are not allowed in this context"
    ),
  ])
  func errorsNameTheLine(yaml: String, expected: String) {
    do {
      _ = try RotationPolicy.parse(yaml, file: "policy.yaml")
      Issue.record("accepted: \(yaml)")
    } catch {
      #expect(error.description == expected)
      #expect(error.exitStatus == .dataError)
    }
  }

  @Test func theShippedScheduledPolicyAlternatesTwoRoles() throws {
    let path = Repository.root + "/policies/rotation/aura-sign-scheduled.yaml"
    let policy = try RotationPolicy.parse(String(contentsOfFile: path, encoding: .utf8), file: path)
    #expect(policy.strategy == .alternating)
    #expect(policy.postgres.map(\.role) == ["aura_blue"])
    #expect(policy.postgres.first?.alternateRole == "aura_green")
    #expect(policy.postgres.first?.userKey == "DATABASE_USER")
    // The user key changes too, and before the derived URL is rendered.
    #expect(policy.changedKeys == ["DATABASE_PASSWORD", "DATABASE_USER", "DATABASE_URL"])
    #expect(
      policy.derive.first?.template
        == .urlPassword(from: "DATABASE_PASSWORD", user: "DATABASE_USER"))
  }

  static let alternatingBase = """
    version: 1
    strategy: alternating
    vault: { secret: secret/a }
    rotate:
      - key: PW
        generate: { bytes: 32 }
    targets:
      postgres:
        - role: blue
          password_key: PW

    """

  @Test(arguments: [
    ("", "strategy alternating needs alternate_role and user_key for postgres role blue"),
    (
      "      alternate_role: blue\n      user_key: U\n",
      "postgres role blue: alternate_role must be a different role"
    ),
    (
      "      alternate_role: green\n      user_key: PW\n",
      "postgres role blue: user_key PW names the role, so it cannot also be rotated or derived"
    ),
  ])
  func alternatingNeedsAPairAndAUserKey(extra: String, expected: String) {
    do {
      _ = try RotationPolicy.parse(Self.alternatingBase + extra, file: "p.yaml")
      Issue.record("accepted")
    } catch {
      #expect(error.description == "p.yaml: " + expected)
    }
  }

  @Test func aPairWithoutStrategyAlternatingIsRefused() {
    let yaml =
      Self.alternatingBase.replacingOccurrences(of: "strategy: alternating\n", with: "")
      + "      alternate_role: green\n      user_key: U\n"
    #expect(throws: PolicyError.self) { try RotationPolicy.parse(yaml, file: "p.yaml") }
    let fine = Self.alternatingBase + "      alternate_role: green\n      user_key: U\n"
    #expect(throws: Never.self) { try RotationPolicy.parse(fine, file: "p.yaml") }
  }

  @Test func targetsMayOnlyNameKeysThePolicyChanges() {
    let yaml = """
      version: 1
      vault: { secret: secret/a }
      rotate:
        - key: A
          generate: { bytes: 32 }
      targets:
        kubernetes:
          - deployment: api
            mode: secret
            secret: s
            keys: [A, B]
      """
    #expect(throws: PolicyError.self) { try RotationPolicy.parse(yaml, file: "p") }
  }
}

@Suite struct ValueTemplateTests {
  @Test func placeholdersAreFilledAndURLEncoded() throws {
    let template = try ValueTemplate(parsing: "postgresql://aura:{{ PW | urlencode }}@db/{{DB}}")
    #expect(template.references == ["PW", "DB"])
    let values = ["PW": SecretBytes(utf8: "p@ss w/rd:%"), "DB": SecretBytes(utf8: "aura_sign")]
    let rendered = try template.render(values: { values[$0] }, current: nil)
    #expect(rendered.unsafeUTF8String() == "postgresql://aura:p%40ss%20w%2Frd%3A%25@db/aura_sign")
  }

  @Test func urlPasswordRewritesOnlyThePassword() throws {
    let current = SecretBytes(
      utf8: "postgresql://aura:old%40pw@db.internal:5432/aura_sign?sslmode=require")
    let rendered = try ValueTemplate.urlPassword(from: "PW").render(
      values: { $0 == "PW" ? SecretBytes(utf8: "N3w/pw") : nil }, current: current)
    #expect(
      rendered.unsafeUTF8String()
        == "postgresql://aura:N3w%2Fpw@db.internal:5432/aura_sign?sslmode=require")
  }

  @Test func urlPasswordWithAUserRewritesBoth() throws {
    let current = SecretBytes(utf8: "postgresql://aura_blue:old@db:5432/aura_sign?sslmode=require")
    let values = ["PW": SecretBytes(utf8: "n:w"), "U": SecretBytes(utf8: "aura_green")]
    let rendered = try ValueTemplate.urlPassword(from: "PW", user: "U").render(
      values: { values[$0] }, current: current)
    #expect(
      rendered.unsafeUTF8String()
        == "postgresql://aura_green:n%3Aw@db:5432/aura_sign?sslmode=require")
  }

  @Test func aURLWithoutPasswordIsRefused() {
    #expect(throws: ValueTemplate.Failure.self) {
      try ValueTemplate.urlPassword(from: "PW").render(
        values: { _ in SecretBytes(utf8: "x") }, current: SecretBytes(utf8: "postgresql://db/app"))
    }
  }

  @Test func unknownFiltersAndUnclosedPlaceholdersAreRefused() {
    #expect(throws: ValueTemplate.Failure.self) { try ValueTemplate(parsing: "{{ A | base64 }}") }
    #expect(throws: ValueTemplate.Failure.self) { try ValueTemplate(parsing: "x {{ A") }
  }
}
