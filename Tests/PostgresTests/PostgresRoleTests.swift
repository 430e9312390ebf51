import Foundation
import LockstepCore
import Postgres
import TestSupport
import Testing

@Suite struct PostgresRoleTests {
  @Test func setPasswordSendsOnlyTheVerifierToTheServer() async throws {
    let fixture = try await PostgresFixture.shared()
    let plaintext = "rotated-" + UUID().uuidString
    try fixture.admin.setPassword(role: fixture.role, secret: SecretBytes(utf8: plaintext))

    let stored = try fixture.admin.query(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1", [.text(fixture.role)])
    let verifier = try #require(stored.first?["rolpassword"])
    #expect(verifier.hasPrefix("SCRAM-SHA-256$4096:"))

    // log_statement=all: every statement the server received is in its log.
    let log = fixture.serverLog
    #expect(log.contains(verifier))
    #expect(!log.contains(plaintext))
    #expect(!log.contains(fixture.passwordText))

    #expect(
      try fixture.admin.verifyLogin(role: fixture.role, secret: SecretBytes(utf8: plaintext))
        == .accepted)
    #expect(
      try fixture.admin.verifyLogin(role: fixture.role, secret: fixture.password)
        == .refused(
          .badPassword(role: fixture.role, server: "127.0.0.1:\(fixture.service.port)")))
  }

  @Test func terminateSessionsEndsAConnectionOpenedBefore() async throws {
    let fixture = try await PostgresFixture.shared()
    let attacker = try fixture.connectAsRole()
    #expect(try attacker.ping().user == fixture.role)
    let bystander = try fixture.connectAsRole()
    _ = bystander

    try fixture.admin.setPassword(role: fixture.role, secret: SecretBytes(utf8: UUID().uuidString))
    // ALTER ROLE alone leaves the open sessions working: the runbook's flaw.
    #expect(try attacker.ping().user == fixture.role)

    #expect(try fixture.admin.terminateSessions(role: fixture.role) == 2)
    let error = #expect(throws: PostgresError.self) { try attacker.ping() }
    guard case .connectionLost = error else {
      Issue.record("expected connectionLost, got \(String(describing: error))")
      return
    }
    #expect(try fixture.admin.ping().user == "postgres")
    #expect(try fixture.admin.terminateSessions(role: fixture.role) == 0)
    let remaining = try fixture.admin.query(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1", [.text(fixture.role)])
    #expect(remaining[0].int("n") == 0)
  }

  @Test func verifyLoginGivesAcceptedRefusedAndUnreachable() async throws {
    let fixture = try await PostgresFixture.shared()
    #expect(
      try fixture.admin.verifyLogin(role: fixture.role, secret: fixture.password) == .accepted)

    let configuration = PostgresConfiguration(environment: [:], parameters: fixture.parameters())
    #expect(
      try PostgresConnection.verifyLogin(
        configuration, role: fixture.role, secret: fixture.password) == .accepted)
    let refused = try PostgresConnection.verifyLogin(
      configuration, role: fixture.role, secret: SecretBytes(utf8: "not-the-password"))
    guard case .refused(.badPassword) = refused else {
      Issue.record("expected refused, got \(refused)")
      return
    }
    // A role that cannot log in is refused too, not an error.
    try fixture.admin.query(
      "ALTER ROLE \(try fixture.admin.quotedIdentifier(fixture.role)) NOLOGIN")
    guard
      case .refused(.loginRejected) = try PostgresConnection.verifyLogin(
        configuration, role: fixture.role, secret: fixture.password)
    else {
      Issue.record("expected a refused NOLOGIN role")
      return
    }

    var nowhere = configuration
    nowhere.parameters["port"] = String(FreePort.next())
    let unreachable = try PostgresConnection.verifyLogin(
      nowhere, role: fixture.role, secret: fixture.password)
    guard case .unreachable(.unreachable) = unreachable else {
      Issue.record("expected unreachable, got \(unreachable)")
      return
    }
  }

  @Test func missingRoleIsMatchable() async throws {
    let fixture = try await PostgresFixture.shared()
    let ghost = PostgresFixture.randomName("ghost")
    let secret = SecretBytes(utf8: "ghost-password-\(UUID().uuidString)")
    let error = #expect(throws: PostgresError.self) {
      try fixture.admin.setPassword(role: ghost, secret: secret)
    }
    #expect(error == .roleMissing(role: ghost))
    #expect(error?.description.contains(ghost) == true)
    #expect(throws: PostgresError.roleMissing(role: ghost)) {
      try fixture.admin.terminateSessions(role: ghost)
    }
    #expect(try fixture.admin.roleExists(ghost) == false)
    #expect(try fixture.admin.roleExists(fixture.role))
  }

  @Test func aRoleWithoutCreateRoleIsDeniedAndTheCapabilityCheckSaysSo() async throws {
    let fixture = try await PostgresFixture.shared()
    let victim = PostgresFixture.randomName("victim")
    try fixture.admin.query("CREATE ROLE \(try fixture.admin.quotedIdentifier(victim)) LOGIN")
    let plain = try fixture.connectAsRole()

    let capabilities = try plain.capabilities()
    #expect(capabilities.user == fixture.role)
    #expect(!capabilities.isSuperuser && !capabilities.canCreateRole)
    #expect(!capabilities.canChangePasswords)
    #expect(throws: PostgresError.self) { try capabilities.requirePasswordChanges() }

    let secret = SecretBytes(utf8: "victim-" + UUID().uuidString)
    let error = #expect(throws: PostgresError.self) {
      try plain.setPassword(role: victim, secret: secret)
    }
    guard case .permissionDenied(_, let user, _) = error else {
      Issue.record("expected permissionDenied, got \(String(describing: error))")
      return
    }
    #expect(user == fixture.role)
    #expect(error?.sqlState == "42501")
    #expect(error?.exitStatus == .noPermission)
    #expect(error?.description.contains("CREATEROLE") == true)

    let admin = try fixture.admin.capabilities()
    #expect(admin.isSuperuser && admin.canChangePasswords && admin.canSignalBackends)

    try fixture.admin.query(
      "ALTER ROLE \(try fixture.admin.quotedIdentifier(fixture.role)) CREATEROLE")
    let manager = try fixture.connectAsRole()
    #expect(try manager.capabilities().canChangePasswords)
    try manager.setPassword(role: victim, secret: secret)
    #expect(try manager.verifyLogin(role: victim, secret: secret) == .accepted)
  }

  @Test func oddRoleNamesAreQuoted() async throws {
    let fixture = try await PostgresFixture.shared()
    let odd = "we\"ird role ' \(UUID().uuidString.prefix(6))"
    let quoted = try fixture.admin.quotedIdentifier(odd)
    #expect(quoted == "\"" + odd.replacingOccurrences(of: "\"", with: "\"\"") + "\"")
    try fixture.admin.query("CREATE ROLE \(quoted) LOGIN")
    let secret = SecretBytes(utf8: "odd-" + UUID().uuidString)
    try fixture.admin.setPassword(role: odd, secret: secret)
    #expect(try fixture.admin.roleExists(odd))
    #expect(try fixture.admin.verifyLogin(role: odd, secret: secret) == .accepted)
    let session = try fixture.connectAsRole(odd, password: secret)
    #expect(try session.ping().user == odd)
    #expect(try fixture.admin.terminateSessions(role: odd) == 1)
  }
}

/// Tests that stop or reconfigure their server get one of their own.
@Suite struct PostgresServerStateTests {
  @Test func aStoppedServerIsReportedAsUnreachable() async throws {
    try await withLocalService(.postgres) { service in
      let fixture = try PostgresFixture.make(on: service)
      service.stop()

      let lost = #expect(throws: PostgresError.self) { try fixture.admin.ping() }
      guard case .connectionLost = lost else {
        Issue.record("expected connectionLost, got \(String(describing: lost))")
        return
      }
      let down = #expect(throws: PostgresError.self) { try fixture.connectAsRole() }
      guard case .unreachable(let server, _) = down else {
        Issue.record("expected unreachable, got \(String(describing: down))")
        return
      }
      #expect(server == "127.0.0.1:\(service.port)")
      let outcome = try PostgresConnection.verifyLogin(
        PostgresConfiguration(environment: [:], parameters: fixture.parameters()),
        role: fixture.role, secret: fixture.password)
      guard case .unreachable = outcome else {
        Issue.record("expected unreachable, got \(outcome)")
        return
      }
    }
  }

  @Test func aServerThatRequiresTLSIsReportedAsSuch() async throws {
    try await withLocalService(.postgres) { service in
      let admin = try PostgresFixture.superuser(service)
      let hba = service.directory + "/pg/data/pg_hba.conf"
      let original = try String(contentsOfFile: hba, encoding: .utf8)
      let sslOnly = original.split(separator: "\n", omittingEmptySubsequences: false)
        .map { $0.hasPrefix("host ") ? "hostssl" + $0.dropFirst(4) : $0 }
        .joined(separator: "\n")
      try sslOnly.write(toFile: hba, atomically: false, encoding: .utf8)
      try admin.query("SELECT pg_reload_conf()")

      let error = #expect(throws: PostgresError.self) {
        try PostgresFixture.superuser(service)
      }
      // "no pg_hba.conf entry …, no encryption" cannot tell a hostssl-only server from one
      // with no line at all: the sentence says both, and never claims a TLS failure.
      guard case .loginRejected(_, _, let detail) = error else {
        Issue.record("expected loginRejected, got \(String(describing: error))")
        return
      }
      #expect(detail.contains("PGSSLMODE=require"))
      #expect(error?.description.contains(service.password!) == false)
    }
  }

  /// Issue 11: a `reject` line ends with ", no encryption" in the server's text; it is a
  /// rejection, not a TLS problem, and `admission` reads it from pg_hba_file_rules first.
  @Test func aRejectLineIsARejectionNotATLSProblem() async throws {
    try await withLocalService(.postgres) { service in
      let fixture = try PostgresFixture.make(on: service)
      let hba = service.directory + "/pg/data/pg_hba.conf"
      let original = try String(contentsOfFile: hba, encoding: .utf8)
      try ("host all \(fixture.role) 127.0.0.1/32 reject\n" + original).write(
        toFile: hba, atomically: false, encoding: .utf8)
      try fixture.admin.query("SELECT pg_reload_conf()")

      let error = #expect(throws: PostgresError.self) { try fixture.connectAsRole() }
      guard case .loginRejected(_, _, let detail) = error else {
        Issue.record("expected loginRejected, got \(String(describing: error))")
        return
      }
      #expect(detail.contains("rejects"))
      #expect(error?.description.contains("TLS") == false)
      #expect(error?.description.contains("SSL") == false)
      #expect(
        fixture.admin.admission(role: fixture.role, database: fixture.database)
          == .reject(line: 1))
      #expect(
        fixture.admin.admission(role: "postgres", database: fixture.database).isChallenge)
      guard
        case .none(let why) = fixture.admin.passwordExchangeGuard(
          role: fixture.role, database: fixture.database)
      else {
        Issue.record("a reject line must not let a login through")
        return
      }
      #expect(why.contains("line 1 rejects"))
    }
  }

  /// Issue 11: on libpq 15 a `password` line would have the password sent in clear; the
  /// guard reads that from the rules and allows no login.
  @Test func aCleartextPasswordLineAllowsNoLogin() async throws {
    try await withLocalService(.postgres) { service in
      let fixture = try PostgresFixture.make(on: service)
      let hba = service.directory + "/pg/data/pg_hba.conf"
      let original = try String(contentsOfFile: hba, encoding: .utf8)
      try ("host all \(fixture.role) 127.0.0.1/32 password\n" + original).write(
        toFile: hba, atomically: false, encoding: .utf8)
      try fixture.admin.query("SELECT pg_reload_conf()")
      #expect(
        fixture.admin.admission(role: fixture.role, database: fixture.database)
          == .cleartext(line: 1, method: "password"))
      if PostgresConnection.libpqVersion < 160_000 {
        #expect(
          !fixture.admin.passwordExchangeGuard(role: fixture.role, database: fixture.database)
            .allowsLogin)
      }
    }
  }
}

extension PostgresAdmission {
  var isChallenge: Bool {
    if case .challenge = self { true } else { false }
  }
}
