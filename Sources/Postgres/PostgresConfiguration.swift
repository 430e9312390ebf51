internal import CPQ
import Foundation
import LockstepCore

/// Where and how to connect, in libpq's own terms, without touching the process
/// environment.
///
/// Precedence follows libpq: `parameters` beat the `conninfo`, which beats a service file
/// entry, which beats the `PG*` variables of `environment`; `password` beats them all. The
/// environment is a dictionary (the process's by default) so tests and callers can describe
/// a target without `setenv`, which is not thread-safe. libpq still reads the process
/// environment itself for any setting left unset by all of these, and for the few variables
/// that are not connection keywords (`PGTZ`, `PGDATESTYLE`).
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
  /// A libpq connection string: `host=… port=… dbname=…` or `postgresql://…`.
  public var conninfo: String?
  /// `PG*` variables: `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSWORD`, `PGPASSFILE`,
  /// `PGSERVICE`, `PGSERVICEFILE`, `PGSYSCONFDIR`, `PGSSLMODE`, … and `HOME` for
  /// `~/.pg_service.conf`.
  public var environment: [String: String]
  /// libpq keywords (`host`, `dbname`, `sslmode`, …) that override everything else.
  public var parameters: [String: String]
  /// The password Lockstep supplies itself; it goes to libpq as a keyword value from a
  /// wiped buffer, never through a conninfo string.
  public var password: SecretBytes?
  /// How long the whole connection attempt may take when no `connect_timeout` is set.
  public var connectTimeout: Duration

  public init(
    conninfo: String? = nil,
    environment: [String: String] = ProcessInfo.processInfo.environment,
    parameters: [String: String] = [:],
    password: SecretBytes? = nil,
    connectTimeout: Duration = .seconds(10)
  ) {
    self.conninfo = conninfo
    self.environment = environment
    self.parameters = parameters
    self.password = password
    self.connectTimeout = connectTimeout
  }

  /// Shows the settings a user chose, with passwords hidden.
  public var description: String {
    var parts: [String] = []
    if let conninfo { parts.append(Redaction.url(Redaction.conninfo(conninfo))) }
    for key in parameters.keys.sorted() where key != "password" {
      parts.append("\(key)=\(parameters[key]!)")
    }
    if password != nil || parameters["password"] != nil { parts.append("password=***") }
    return parts.isEmpty ? "PostgreSQL from PG* variables" : parts.joined(separator: " ")
  }
}

/// One resolved keyword value: text, or a secret that stays in `SecretBytes`.
enum KeywordValue {
  case text(String)
  case secret(SecretBytes)
}

extension PostgresConfiguration {
  /// The keyword/value pairs handed to `PQconnectStartParams`, resolved in libpq's order of
  /// precedence.
  func resolvedKeywords() throws(PostgresError) -> [(String, KeywordValue)] {
    var values: [String: KeywordValue] = [:]
    var order: [String] = []
    func set(_ key: String, _ value: KeywordValue) {
      if values[key] == nil { order.append(key) }
      values[key] = value
    }

    for option in LibpqOptions.all {
      if let variable = option.environmentVariable, let value = environment[variable],
        !value.isEmpty
      {
        set(option.keyword, .text(value))
      }
    }
    let fromConninfo = try conninfo.map { (s) throws(PostgresError) in try Self.parse(s) } ?? []
    let service =
      parameters["service"] ?? fromConninfo.last(where: { $0.0 == "service" })?.1
      ?? environment["PGSERVICE"]
    if let service, !service.isEmpty {
      for (key, value) in try PostgresServiceFile.lookup(service, environment: environment) {
        set(key, .text(value))
      }
    }
    for (key, value) in fromConninfo { set(key, .text(value)) }
    for key in parameters.keys.sorted() { set(key, .text(parameters[key]!)) }
    if let password { set("password", .secret(password)) }
    // The service has been expanded here; libpq must not look it up again in files the
    // process environment names.
    return order.filter { $0 != "service" }.map { ($0, values[$0]!) }
  }

  /// Splits a conninfo or URI with libpq's own parser, so both syntaxes and all escapes
  /// behave exactly as in psql.
  static func parse(_ conninfo: String) throws(PostgresError) -> [(String, String)] {
    var message: UnsafeMutablePointer<CChar>?
    guard let options = PQconninfoParse(conninfo, &message) else {
      let text = message.map { String(cString: $0) } ?? "out of memory"
      if let message { PQfreemem(message) }
      throw .invalidConfiguration(
        "the connection string cannot be parsed (\(PostgresScrubber.scrub(text, secrets: [])))")
    }
    defer { LibpqOptions.free(options) }
    var result: [(String, String)] = []
    var cursor = options
    while let keyword = cursor.pointee.keyword {
      if let value = cursor.pointee.val {
        result.append((String(cString: keyword), String(cString: value)))
      }
      cursor += 1
    }
    return result
  }
}

/// The keywords libpq knows and the environment variable behind each, read once from the
/// installed libpq instead of a copied table. `PQconninfoParse("")` lists them without
/// consulting the environment (`PQconndefaults` would, and fails outright when the
/// process's `PGSERVICE` names a missing service).
enum LibpqOptions {
  struct Option: Sendable {
    let keyword: String
    let environmentVariable: String?
  }

  static let all: [Option] = {
    guard let defaults = PQconninfoParse("", nil) else { return [] }
    defer { LibpqOptions.free(defaults) }
    var result: [Option] = []
    var cursor = defaults
    while let keyword = cursor.pointee.keyword {
      result.append(
        Option(
          keyword: String(cString: keyword),
          environmentVariable: cursor.pointee.envvar.map { String(cString: $0) }))
      cursor += 1
    }
    return result
  }()

  static func isKnown(_ keyword: String) -> Bool {
    all.contains { $0.keyword == keyword }
  }

  /// Frees an option array after zeroing any password value it holds (PQconndefaults
  /// reads PGPASSWORD; PQconninfoParse and PQconninfo return the password given).
  static func free(_ options: UnsafeMutablePointer<PQconninfoOption>) {
    var cursor = options
    while let keyword = cursor.pointee.keyword {
      if strcmp(keyword, "password") == 0, let value = cursor.pointee.val {
        explicit_bzero(value, strlen(value))
      }
      cursor += 1
    }
    PQconninfoFree(options)
  }
}
