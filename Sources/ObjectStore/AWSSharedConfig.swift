import Foundation

/// The AWS CLI's shared files: `~/.aws/credentials` (sections `[name]`) and `~/.aws/config`
/// (sections `[profile name]`, and `[default]`), in the CLI's INI dialect.
/// - SeeAlso: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html
struct AWSSharedConfig {
  /// Settings of one profile: the credentials file's section first, the config file's
  /// filling in what it lacks (the CLI's precedence).
  let settings: [String: String]
  let found: Bool

  init(profile: String, credentialsFile: String?, configFile: String?) {
    var settings: [String: String] = [:]
    var found = false
    if let configFile, let text = try? String(contentsOfFile: configFile, encoding: .utf8) {
      let name = profile == "default" ? "default" : "profile \(profile)"
      if let section = Self.sections(text)[name] {
        found = true
        settings.merge(section) { _, new in new }
      }
    }
    if let credentialsFile,
      let text = try? String(contentsOfFile: credentialsFile, encoding: .utf8),
      let section = Self.sections(text)[profile]
    {
      found = true
      settings.merge(section) { _, new in new }
    }
    self.settings = settings
    self.found = found
  }

  /// `[section]` → `key = value`. Comments (`#`, `;`) and indented sub-settings (`s3 =`
  /// blocks) are skipped; keys are lower-cased.
  static func sections(_ text: String) -> [String: [String: String]] {
    var result: [String: [String: String]] = [:]
    var current: String?
    for rawLine in text.split(whereSeparator: \.isNewline) {
      if rawLine.first == " " || rawLine.first == "\t" { continue }
      let line = rawLine.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
      if line.hasPrefix("[") && line.hasSuffix("]") {
        let name = line.dropFirst().dropLast().split(
          separator: " ", omittingEmptySubsequences: true
        )
        .joined(separator: " ")
        current = name
        result[name, default: [:]] = result[name] ?? [:]
        continue
      }
      guard let current, let equals = line.firstIndex(of: "=") else { continue }
      let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
      let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
      result[current, default: [:]][key] = value
    }
    return result
  }
}
