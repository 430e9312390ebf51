import Foundation
import LockstepCore
import Postgres
import TestSupport
import Testing
import Vault

/// `strategy: alternating` end to end, with the shipped scheduled policy: two login roles
/// used in turn. A serialized suite of its own beside the other rotation suites: inside
/// the compromise suite these tests made one 14-minute serial tail on a loaded CI host.

extension RotationStackSuite {
  /// Turns the seeded system into a blue/green pair: `aura` becomes the group role that
  /// owns the tables, `aura_blue` (in use, member of `aura`) and `aura_green` (not a member
  /// yet: the rotation must make the two equal) log in. Returns blue's and green's passwords.
  func makePair(_ stack: RotationStack) async throws -> (blue: SecretBytes, green: SecretBytes) {
    let blue = SecretBytes(utf8: "Blue\(UUID().uuidString.prefix(12))")
    let green = SecretBytes(utf8: "Green\(UUID().uuidString.prefix(12))")
    let admin = try stack.adminConnection()
    defer { admin.close() }
    try admin.query("DROP ROLE IF EXISTS aura_blue")
    try admin.query("DROP ROLE IF EXISTS aura_green")
    try admin.query("ALTER ROLE aura NOLOGIN")
    try admin.query("CREATE ROLE aura_blue LOGIN IN ROLE aura")
    try admin.query("CREATE ROLE aura_green LOGIN")
    try admin.setPassword(role: "aura_blue", secret: blue)
    try admin.setPassword(role: "aura_green", secret: green)
    var values = SecretMap()
    values["DATABASE_USER"] = SecretBytes(utf8: "aura_blue")
    values["DATABASE_PASSWORD"] = blue
    values["DATABASE_URL"] = SecretBytes(
      utf8:
        "postgresql://aura_blue:\(blue.unsafeUTF8String()!)@127.0.0.1:\(stack.postgres.port)/aura_sign"
    )
    _ = try await stack.vaultClient.patch("secret/aura/production", values)
    let policy = try String(
      contentsOfFile: Repository.root + "/policies/rotation/aura-sign-scheduled.yaml",
      encoding: .utf8)
    try policy.write(toFile: scheduledPolicy(stack), atomically: true, encoding: .utf8)
    return (blue, green)
  }

  func scheduledPolicy(_ stack: RotationStack) -> String { stack.directory + "/scheduled.yaml" }

  func memberships(_ stack: RotationStack, _ role: String) throws -> Set<String> {
    let admin = try stack.adminConnection()
    defer { admin.close() }
    return Set(try admin.roleProfile(role)?.memberships.map(\.group) ?? [])
  }
}

@Suite(.serialized) struct RotationAlternatingTests: RotationStackSuite {
  @Test func alternatingSwitchesRolesAndLeavesTheRoleInUseWorking() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    let (blue, green) = try await makePair(stack)
    let before = try await stack.liveSecret()
    // A pod's connection, opened as the role in use before the rotation.
    var podConfiguration = stack.postgresConfiguration()
    podConfiguration.parameters["user"] = "aura_blue"
    podConfiguration.password = blue
    let pod = try PostgresConnection(podConfiguration)

    let plan = try await stack.rotate("plan", policy: scheduledPolicy(stack))
    #expect(plan.status == 0, "plan: \(plan.stderrText)")
    #expect(plan.stdoutText.contains("in use: aura_blue"))
    #expect(plan.stdoutText.contains("ALTER ROLE aura_green PASSWORD"))

    let run = try await stack.rotate("run", policy: scheduledPolicy(stack))
    #expect(run.status == 0, "rotate run: \(run.stderrText)")
    let live = try await stack.liveSecret()
    #expect(live.version == (before.version ?? 0) + 1)
    #expect(live.data["DATABASE_USER"]?.unsafeUTF8String() == "aura_green")
    let newPassword = try #require(live.data["DATABASE_PASSWORD"])
    #expect(newPassword != blue && newPassword != green)
    #expect(
      live.data["DATABASE_URL"]?.unsafeUTF8String()
        == "postgresql://aura_green:\(newPassword.unsafeUTF8String()!)@127.0.0.1:\(stack.postgres.port)/aura_sign"
    )
    for key in before.data.keys
    where !["DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_URL"].contains(key) {
      #expect(live.data[key] == before.data[key], "\(key) kept")
    }
    // Green got the new password and blue's memberships; blue still works, its pod too.
    #expect(try stack.login(newPassword, role: "aura_green") == .accepted)
    #expect(try stack.login(green, role: "aura_green") != .accepted)
    #expect(try stack.login(blue, role: "aura_blue") == .accepted)
    #expect(try pod.query("SELECT count(*) AS n FROM identity").first?.int("n") == 100)
    #expect(try memberships(stack, "aura_green") == ["aura"])
    var greenConfiguration = stack.postgresConfiguration()
    greenConfiguration.parameters["user"] = "aura_green"
    greenConfiguration.password = newPassword
    let greenConnection = try PostgresConnection(greenConfiguration)
    #expect(
      try greenConnection.query("SELECT count(*) AS n FROM identity").first?.int("n") == 100,
      "the new role reads what the old one could")
    greenConnection.close()
    // The deployments got the switch.
    let secret = try await stack.kubectlJSON("secret", "aura-secrets")
    let data = try #require(secret["data"] as? [String: String])
    #expect(data["DATABASE_USER"].flatMap { Data(base64Encoded: $0) } == Data("aura_green".utf8))
    let evidence = try stack.recordedFiles()
    #expect(evidence.contains(#""memberships_granted":["aura"]"#))
    #expect(evidence.contains(#""role_in_use_login":"accepted until the next rotation""#))
    let newText = newPassword.unsafeUTF8String()!
    let argv = (try? String(contentsOfFile: stack.kubectlLog, encoding: .utf8)) ?? ""
    for text in [run.stdoutText, run.stderrText, evidence, argv, stack.postgresServerLog] {
      #expect(!text.contains(newText), "the new password leaked")
    }

    // The next run goes back to blue: blue's password changes, green's keeps working.
    let second = try await stack.rotate("run", policy: scheduledPolicy(stack))
    #expect(second.status == 0, "second run: \(second.stderrText)")
    let after = try await stack.liveSecret()
    #expect(after.data["DATABASE_USER"]?.unsafeUTF8String() == "aura_blue")
    let bluePassword = try #require(after.data["DATABASE_PASSWORD"])
    #expect(try stack.login(bluePassword, role: "aura_blue") == .accepted)
    #expect(try stack.login(blue, role: "aura_blue") != .accepted)
    #expect(try stack.login(newPassword, role: "aura_green") == .accepted)
    #expect(try memberships(stack, "aura_blue") == memberships(stack, "aura_green"))
    pod.close()
  }

  /// A crash where it hurts most for a pair: after staging (which role is next is only in
  /// Vault's staging copy), after apply (green changed, live still names blue) and after
  /// promote (live names green, the pods do not know yet).
  @Test func alternatingResumesAfterACrash() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    for boundary in ["stage:after", "apply:after", "promote:after"] {
      try await stack.seed()
      let (blue, _) = try await makePair(stack)
      let crashed = try await stack.rotate(
        "run", environment: ["LOCKSTEP_FAULT": boundary], policy: scheduledPolicy(stack))
      #expect(crashed.status == 128 + 9, "\(boundary) killed the process")
      let resumed = try await stack.rotate("resume", policy: scheduledPolicy(stack))
      #expect(resumed.status == 0, "resume after \(boundary): \(resumed.stderrText)")
      let live = try await stack.liveSecret()
      #expect(live.data["DATABASE_USER"]?.unsafeUTF8String() == "aura_green", "\(boundary)")
      let password = try #require(live.data["DATABASE_PASSWORD"])
      #expect(try stack.login(password, role: "aura_green") == .accepted, "\(boundary)")
      #expect(try stack.login(blue, role: "aura_blue") == .accepted, "\(boundary)")
      #expect(try memberships(stack, "aura_green") == ["aura"], "\(boundary)")
      let secret = try await stack.kubectlJSON("secret", "aura-secrets")
      let data = try #require(secret["data"] as? [String: String])
      #expect(
        data["DATABASE_PASSWORD"].flatMap { Data(base64Encoded: $0) }
          == Data(password.unsafeUTF8String()!.utf8), "\(boundary): the pods got the new password")
    }
  }

  @Test func alternatingRefusesAPairWhoseRightsDiffer() async throws {
    let stack = try await onDedicatedThread { try RotationStack() }
    try await stack.seed()
    let (blue, green) = try await makePair(stack)
    let admin = try stack.adminConnection()
    // Green owns a table of its own and holds a membership blue lacks: switching to it
    // would change what the application may do, so nothing must happen.
    try admin.query("CREATE TABLE green_only (id int)")
    try admin.query("ALTER TABLE green_only OWNER TO aura_green")
    try admin.query("GRANT pg_read_all_settings TO aura_green")
    admin.close()
    let before = try await stack.liveSecret()

    let run = try await stack.rotate("run", policy: scheduledPolicy(stack))
    #expect(run.status == 1)
    #expect(run.stderrText.contains("preflight failed, nothing was changed"))
    #expect(run.stderrText.contains("PostgreSQL role aura_green owns 1 object(s)"))
    #expect(
      run.stderrText.contains(
        "PostgreSQL role aura_green is a member of pg_read_all_settings (admin_option=false), which aura_blue is not"
      ))
    #expect(try await stack.liveSecret().version == before.version)
    #expect(try stack.login(blue, role: "aura_blue") == .accepted)
    #expect(try stack.login(green, role: "aura_green") == .accepted)
    #expect((try await stack.rotate("status")).stdoutText.contains("no rotation in progress"))
  }
}
