import Foundation

/// Reads connection service files (`pg_service.conf`) the way libpq does, but from the
/// environment dictionary of a `PostgresConfiguration` instead of the process's.
///
/// libpq's rules: the user file is `PGSERVICEFILE`, else `~/.pg_service.conf`; the system
/// file is `PGSYSCONFDIR/pg_service.conf`; the first file holding the service wins; a
/// service named but found nowhere is an error.
/// - SeeAlso: https://www.postgresql.org/docs/current/libpq-pgservice.html
enum PostgresServiceFile {
  /// Debian's libpq is built with this SYSCONFDIR (`pg_config --sysconfdir`).
  static let defaultSystemDirectory = "/etc/postgresql-common"

  static func lookup(_ service: String, environment: [String: String]) throws(PostgresError)
    -> [(String, String)]
  {
    var files: [String] = []
    if let file = environment["PGSERVICEFILE"], !file.isEmpty {
      files.append(file)
    } else if let home = environment["HOME"], !home.isEmpty {
      files.append(home + "/.pg_service.conf")
    }
    files.append(
      (environment["PGSYSCONFDIR"].flatMap { $0.isEmpty ? nil : $0 }
        ?? defaultSystemDirectory) + "/pg_service.conf")
    for file in files {
      guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
      if let entries = try section(service, in: text, file: file) { return entries }
    }
    throw .invalidConfiguration(
      "service \"\(service)\" is not defined in \(files.joined(separator: " or "))")
  }

  /// The `key=value` lines of `[service]`, or nil when the file has no such section.
  static func section(_ service: String, in text: String, file: String) throws(PostgresError)
    -> [(String, String)]?
  {
    var inSection = false
    var found = false
    var entries: [(String, String)] = []
    for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false)
      .enumerated()
    {
      let line = rawLine.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      if line.hasPrefix("[") {
        if found { break }
        inSection = line == "[\(service)]"
        found = inSection
        continue
      }
      guard inSection else { continue }
      guard let equals = line.firstIndex(of: "=") else {
        throw .invalidConfiguration("line \(number + 1) of \(file) has no \"=\"")
      }
      let key = String(line[..<equals])
      let value = String(line[line.index(after: equals)...])
      guard key != "service" else {
        throw .invalidConfiguration("nested service in line \(number + 1) of \(file)")
      }
      guard LibpqOptions.isKnown(key) else {
        throw .invalidConfiguration(
          "line \(number + 1) of \(file) sets unknown keyword \"\(key)\"")
      }
      entries.append((key, value))
    }
    return found ? entries : nil
  }
}
