import Foundation
import LockstepCore
import Postgres
import TestSupport
import Testing

@Suite struct PostgresConnectionTests {
  @Test func connectsFromPGVariablesGivenAsADictionary() async throws {
    let fixture = try await PostgresFixture.shared()
    let connection = try PostgresConnection(
      PostgresConfiguration(environment: [
        "PGHOST": fixture.service.host, "PGPORT": String(fixture.service.port),
        "PGUSER": fixture.role, "PGDATABASE": fixture.database,
        "PGPASSWORD": fixture.passwordText, "PGAPPNAME": "lockstep-env-test",
      ]))
    let info = try connection.ping()
    #expect(info.user == fixture.role)
    #expect(info.database == fixture.database)
    #expect(info.versionNumber >= 150_000)
    #expect(info.version.hasPrefix("15"))
    #expect(info.server == "127.0.0.1:\(fixture.service.port)")
    #expect(connection.usedPassword)
    let app = try connection.query("SELECT current_setting('application_name') AS app")
    #expect(app[0]["app"] == "lockstep-env-test")
  }

  @Test func connectsWithAPassfileFromPGPASSFILE() async throws {
    let fixture = try await PostgresFixture.shared()
    let directory = try TemporaryDirectory.make(prefix: "lockstep-pgpass")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let passfile = directory + "/pgpass"
    _ = FileManager.default.createFile(
      atPath: passfile,
      contents: Data(
        "127.0.0.1:\(fixture.service.port):\(fixture.database):\(fixture.role):\(fixture.passwordText)\n"
          .utf8),
      attributes: [.posixPermissions: 0o600])
    let connection = try PostgresConnection(
      PostgresConfiguration(environment: [
        "PGHOST": "127.0.0.1", "PGPORT": String(fixture.service.port),
        "PGUSER": fixture.role, "PGDATABASE": fixture.database, "PGPASSFILE": passfile,
      ]))
    #expect(try connection.ping().user == fixture.role)
  }

  @Test func connectsFromAServiceFileWhichBeatsPGVariables() async throws {
    let fixture = try await PostgresFixture.shared()
    let directory = try TemporaryDirectory.make(prefix: "lockstep-pgservice")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let file = directory + "/pg_service.conf"
    try """
    # a comment
    [other]
    host=192.0.2.1

    [aura]
    host=127.0.0.1
    port=\(fixture.service.port)
    dbname=\(fixture.database)
    user=\(fixture.role)
    """.write(toFile: file, atomically: true, encoding: .utf8)
    let connection = try PostgresConnection(
      PostgresConfiguration(
        environment: [
          "PGSERVICEFILE": file, "PGSERVICE": "aura", "PGDATABASE": "no_such_database",
        ],
        password: fixture.password))
    let info = try connection.ping()
    #expect(info.database == fixture.database)
    #expect(info.user == fixture.role)

    #expect(throws: PostgresError.self) {
      try PostgresConnection(
        PostgresConfiguration(environment: ["PGSERVICEFILE": file, "PGSERVICE": "missing"]))
    }
  }

  @Test func connectsFromAConninfoAndAURI() async throws {
    let fixture = try await PostgresFixture.shared()
    let port = fixture.service.port
    let keywordForm = try PostgresConnection(
      PostgresConfiguration(
        conninfo: "host=127.0.0.1 port=\(port) dbname=\(fixture.database) user=\(fixture.role)",
        environment: [:], password: fixture.password))
    #expect(try keywordForm.ping().database == fixture.database)

    let uriForm = try PostgresConnection(
      PostgresConfiguration(
        conninfo:
          "postgresql://\(fixture.role)@127.0.0.1:\(port)/\(fixture.database)?application_name=uri",
        environment: ["PGDATABASE": "ignored_because_the_uri_wins"], password: fixture.password))
    let row = try uriForm.query("SELECT current_setting('application_name') AS app")[0]
    #expect(row["app"] == "uri")
    #expect(uriForm.database == fixture.database)

    let malformed = #expect(throws: PostgresError.self) {
      try PostgresConnection(
        PostgresConfiguration(conninfo: "host=127.0.0.1 password=hunter22 bogus", environment: [:]))
    }
    #expect(malformed?.description.contains("hunter22") == false)
    #expect(malformed?.exitStatus == .usage)
  }

  @Test func runsQueriesWithParameters() async throws {
    let fixture = try await PostgresFixture.shared()
    let connection = try fixture.connectAsRole()
    let hostile = "x'); DROP TABLE identity; --"
    let row = try connection.query(
      "SELECT $1::int + $2::int AS sum, $3::text AS echoed, $4::text IS NULL AS missing",
      [40, .int(2), .text(hostile), nil])[0]
    #expect(row.int("sum") == 42)
    #expect(row["echoed"] == hostile)
    #expect(row.bool("missing") == true)
    #expect(row.columns == ["sum", "echoed", "missing"])

    try connection.query("CREATE TABLE identity (id int PRIMARY KEY, name text)")
    let inserted = try connection.query(
      "INSERT INTO identity VALUES ($1, $2), ($3, $4)", [1, "ada", 2, .null])
    #expect(inserted.affectedRows == 2)
    #expect(inserted.commandTag == "INSERT 0 2")
    let rows = try connection.query("SELECT id, name FROM identity ORDER BY id")
    #expect(rows.map { $0["name"] } == ["ada", nil])
    let bySecret = try connection.query(
      "SELECT $1::text = $2::text AS same",
      [.secret(fixture.password), .text(fixture.passwordText)])
    #expect(bySecret[0].bool("same") == true)

    let bad = #expect(throws: PostgresError.self) {
      try connection.query("SELECT * FROM no_such_table")
    }
    #expect(bad?.sqlState == "42P01")
  }

  @Test func refusedConnectionNamesHostAndPort() throws {
    let port = FreePort.next()
    let error = #expect(throws: PostgresError.self) {
      try PostgresConnection(
        PostgresConfiguration(
          environment: [:],
          parameters: ["host": "127.0.0.1", "port": String(port), "user": "postgres"],
          password: SecretBytes(utf8: "never-sent-anywhere")))
    }
    guard case .unreachable(let server, _) = error else {
      Issue.record("expected unreachable, got \(String(describing: error))")
      return
    }
    #expect(server == "127.0.0.1:\(port)")
    #expect(error?.description.contains("127.0.0.1:\(port)") == true)
    #expect(error?.description.contains("connection refused") == true)
    #expect(error?.description.contains("never-sent-anywhere") == false)
    #expect(error?.exitStatus == .unavailable)
  }

  @Test func badPasswordIsMatchableAndNeverPrinted() async throws {
    let fixture = try await PostgresFixture.shared()
    let wrong = "wrong-" + UUID().uuidString
    let error = #expect(throws: PostgresError.self) {
      try fixture.connectAsRole(password: SecretBytes(utf8: wrong))
    }
    #expect(
      error
        == .badPassword(role: fixture.role, server: "127.0.0.1:\(fixture.service.port)"))
    #expect(error?.sqlState == "28P01")
    #expect(error?.exitStatus == .noPermission)
    #expect(error?.description.contains(wrong) == false)
    #expect(error?.description.contains(fixture.passwordText) == false)
  }

  @Test func missingPasswordIsReported() async throws {
    let fixture = try await PostgresFixture.shared()
    let error = #expect(throws: PostgresError.self) {
      try PostgresConnection(
        PostgresConfiguration(
          environment: [:],
          parameters: fixture.parameters().merging(["passfile": "/nonexistent"]) { $1 }))
    }
    #expect(
      error
        == .passwordRequired(role: fixture.role, server: "127.0.0.1:\(fixture.service.port)"))
  }

  @Test func missingDatabaseIsMatchable() async throws {
    let fixture = try await PostgresFixture.shared()
    let error = #expect(throws: PostgresError.self) {
      try PostgresConnection(
        PostgresConfiguration(
          environment: [:],
          parameters: fixture.parameters().merging(["dbname": "no_such_db"]) { $1 },
          password: fixture.password))
    }
    #expect(
      error
        == .databaseMissing(database: "no_such_db", server: "127.0.0.1:\(fixture.service.port)"))
    #expect(error?.sqlState == "3D000")
  }

  @Test func clientDemandingTLSFromAPlainServerFailsClearly() async throws {
    let fixture = try await PostgresFixture.shared()
    let error = #expect(throws: PostgresError.self) {
      try PostgresConnection(
        PostgresConfiguration(
          environment: ["PGSSLMODE": "require"], parameters: fixture.parameters(),
          password: fixture.password))
    }
    guard case .tlsFailed = error else {
      Issue.record("expected tlsFailed, got \(String(describing: error))")
      return
    }
  }

  @Test func unknownKeywordsAndBadValuesAreConfigurationErrors() throws {
    for parameters in [["bogus": "1"], ["sslmode": "sometimes"], ["port": "eighty"]] {
      let error = #expect(throws: PostgresError.self) {
        try PostgresConnection(
          PostgresConfiguration(environment: [:], parameters: parameters))
      }
      guard case .invalidConfiguration = error else {
        Issue.record("expected invalidConfiguration, got \(String(describing: error))")
        continue
      }
    }
  }

  @Test func passwordsWithNULBytesAreRejectedBeforeLibpq() async throws {
    let fixture = try await PostgresFixture.shared()
    let error = #expect(throws: PostgresError.self) {
      try fixture.connectAsRole(password: SecretBytes(copying: [0x61, 0x00, 0x62]))
    }
    guard case .invalidConfiguration = error else {
      Issue.record("expected invalidConfiguration, got \(String(describing: error))")
      return
    }
  }

  @Test func aClosedConnectionSaysSo() async throws {
    let fixture = try await PostgresFixture.shared()
    let connection = try fixture.connectAsRole()
    connection.close()
    connection.close()
    #expect(throws: PostgresError.self) { try connection.ping() }
  }
}
