import Foundation
import LockstepCore
import Postgres
import TestSupport

/// A fresh role and database on a real PostgreSQL, so tests sharing one server never see
/// each other's state.
struct PostgresFixture {
  let service: LocalService
  let admin: PostgresConnection
  let role: String
  let database: String
  /// The role's password as test data (random per test, never a user's secret).
  let passwordText: String
  var password: SecretBytes { SecretBytes(utf8: passwordText) }

  /// The server shared by this test process.
  static func shared(roleOptions: String = "LOGIN") async throws -> PostgresFixture {
    try make(on: try await SharedServices.shared.service(.postgres), roleOptions: roleOptions)
  }

  static func make(on service: LocalService, roleOptions: String = "LOGIN") throws
    -> PostgresFixture
  {
    let admin = try superuser(service)
    let role = randomName("role")
    let database = randomName("db")
    let passwordText = "pw-" + UUID().uuidString
    try admin.query("CREATE ROLE \(try admin.quotedIdentifier(role)) \(roleOptions)")
    try admin.setPassword(role: role, secret: SecretBytes(utf8: passwordText))
    try admin.query("CREATE DATABASE \(database) OWNER \(try admin.quotedIdentifier(role))")
    return PostgresFixture(
      service: service, admin: admin, role: role, database: database,
      passwordText: passwordText)
  }

  static func randomName(_ prefix: String) -> String {
    "lockstep_\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
  }

  static func superuser(_ service: LocalService, database: String = "postgres") throws
    -> PostgresConnection
  {
    try PostgresConnection(
      PostgresConfiguration(
        environment: [:],
        parameters: [
          "host": service.host, "port": String(service.port), "user": "postgres",
          "dbname": database,
        ],
        password: SecretBytes(utf8: service.password!)))
  }

  /// Connection settings for `role` on the fixture's database, password not included.
  func parameters(user: String? = nil) -> [String: String] {
    [
      "host": service.host, "port": String(service.port), "user": user ?? role,
      "dbname": database,
    ]
  }

  func connectAsRole(_ user: String? = nil, password: SecretBytes? = nil) throws
    -> PostgresConnection
  {
    try PostgresConnection(
      PostgresConfiguration(
        environment: [:], parameters: parameters(user: user), password: password ?? self.password))
  }

  var serverLog: String {
    (try? String(contentsOfFile: service.directory + "/pg/server.log", encoding: .utf8)) ?? ""
  }
}
