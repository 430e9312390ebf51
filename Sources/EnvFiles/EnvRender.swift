import LockstepCore

/// Turns a secret (and optionally a template) into the bytes of a `.env` file.
///
/// Every value is checked against the dialect before any byte is produced, so a refusal
/// names all offending keys at once and leaves nothing half-written.
public enum EnvRender {
  public struct Output: Sendable {
    public let content: SecretBytes
    /// Names bound by the output, in file order.
    public let names: [String]
  }

  /// `path` is the secret `{{ KEY }}` refers to and, without a template, the one rendered
  /// whole (keys sorted by name).
  public static func render(
    path: String?, template: EnvTemplate?, dialect: DotenvDialect, source: any SecretSource
  ) async throws -> Output {
    // Every secret the output needs is read first, so nothing is rendered before a read fails.
    var secrets: [String: [String: SecretBytes]] = [:]
    var needed: [String] = []
    if let template {
      for reference in template.references {
        guard let resolved = reference.path ?? path else {
          throw EnvFilesError.templateSyntax(
            line: 0, reason: "{{ \(reference.key) }} needs --vault MOUNT/PATH")
        }
        if !needed.contains(resolved) { needed.append(resolved) }
      }
    } else if let path {
      needed = [path]
    }
    for reference in needed {
      var map: [String: SecretBytes] = [:]
      for (name, value) in try await source.read(reference) { map[name] = value }
      secrets[reference] = map
    }
    func secret(_ reference: String) -> [String: SecretBytes] { secrets[reference] ?? [:] }

    var refused: [EnvFilesError.RefusedKey] = []
    var emitted: [String] = []
    var out: [UInt8] = []
    defer { SecretBytes.wipe(&out) }

    func emit(name: String, prefix: String, value: SecretBytes) {
      switch DotenvRenderer.quote(value, dialect: dialect) {
      case .success(let quoted):
        emitted.append(name)
        out.append(contentsOf: prefix.utf8)
        quoted.withUnsafeBytes { out.append(contentsOf: $0) }
        out.append(0x0A)
      case .failure(let reason):
        refused.append(EnvFilesError.RefusedKey(name: name, reason: reason))
      }
    }

    if let template {
      var unknown: [String] = []
      for reference in template.references {
        let resolved = reference.path ?? path ?? ""
        if secret(resolved)[reference.key] == nil {
          unknown.append(reference.path.map { "\($0):\(reference.key)" } ?? reference.key)
        }
      }
      if !unknown.isEmpty {
        throw EnvFilesError.unknownKeys(
          keys: unknown, source: path.map { "vault:\($0)" } ?? "the secret")
      }
      for line in template.lines {
        switch line {
        case .literal(let text):
          out.append(contentsOf: text.utf8)
          out.append(0x0A)
        case .binding(let prefix, let name, let parts):
          var value: [UInt8] = []
          defer { SecretBytes.wipe(&value) }
          for part in parts {
            switch part {
            case .text(let text): value.append(contentsOf: text.utf8)
            case .placeholder(let reference):
              let resolved = reference.path ?? path ?? ""
              secret(resolved)[reference.key]?.withUnsafeBytes { value.append(contentsOf: $0) }
            }
          }
          emit(name: name, prefix: prefix, value: SecretBytes(consuming: &value))
        }
      }
    } else {
      guard let path else {
        throw EnvFilesError.templateSyntax(line: 0, reason: "nothing to render without --vault")
      }
      for (name, value) in secret(path).sorted(by: { $0.key < $1.key }) {
        guard DotenvParser.isValidName(name) else { throw EnvFilesError.invalidName(name) }
        emit(name: name, prefix: name + "=", value: value)
      }
    }
    if !refused.isEmpty { throw EnvFilesError.refused(dialect: dialect, keys: refused) }
    let content = SecretBytes(copying: out)
    // kubectl's files have no quoting, so Lockstep's parser could misread them.
    let names = dialect == .kubectl ? emitted : DotenvParser.parse(content).names
    return Output(content: content, names: names)
  }
}
