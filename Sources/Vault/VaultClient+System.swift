import Foundation
import HTTP
import LockstepCore

extension VaultClient {
  /// `sys/health`, asking for 200 in every state so that a sealed or standby server still
  /// answers with its state instead of an error status. Needs no token.
  public func health() async throws -> VaultHealth {
    try await onPool { client in
      let call = Call(
        .get, "sys/health", query: "standbyok=true&sealedcode=200&uninitcode=200",
        authenticated: false)
      let response = try self.perform(client, call)
      return try response.body.withUnsafeBytes { bytes in
        guard let root = try? JSONParser.parse(bytes) else {
          throw VaultError.invalidResponse(path: "sys/health", detail: "not JSON")
        }
        return VaultHealth(
          initialized: root["initialized"]?.bool ?? false, sealed: root["sealed"]?.bool ?? true,
          standby: root["standby"]?.bool ?? false,
          version: root["version"]?.text(in: bytes) ?? "")
      }
    }
  }

  /// Who the token is and which policies it holds (for `lockstep doctor`).
  public func lookupSelf() async throws -> VaultTokenInfo {
    try await onPool { client in
      let response = try self.perform(client, Call(.get, "auth/token/lookup-self"))
      return try response.body.withUnsafeBytes { bytes in
        guard let root = try? JSONParser.parse(bytes), let data = root["data"] else {
          throw VaultError.invalidResponse(path: "auth/token/lookup-self", detail: "no data")
        }
        return VaultTokenInfo(
          displayName: data["display_name"]?.text(in: bytes) ?? "",
          policies: data["policies"]?.strings(in: bytes) ?? [],
          ttl: data["ttl"]?.int(in: bytes) ?? 0,
          renewable: data["renewable"]?.bool ?? false)
      }
    }
  }

  /// AppRole login with the role id and secret id read from files (never argv or the
  /// environment); returns a client holding the new token.
  public func loginAppRole(roleIDFile: String, secretIDFile: String, mount: String = "approle")
    async throws -> VaultClient
  {
    let roleID = try VaultConfiguration.readSecretFile(roleIDFile)
    let secretID = try VaultConfiguration.readSecretFile(secretIDFile)
    let token = try await loginAppRole(roleID: roleID, secretID: secretID, mount: mount)
    return with(token: token)
  }

  /// AppRole login; returns the client token.
  public func loginAppRole(roleID: SecretBytes, secretID: SecretBytes, mount: String = "approle")
    async throws -> SecretBytes
  {
    try await onPool { client in
      let body = SecretJSON.object([
        ("role_id", .secretString(roleID)), ("secret_id", .secretString(secretID)),
      ])
      let call = Call(
        .post, "auth/\(mount)/login", body: .secret(body.render()), authenticated: false)
      let response = try self.send(client, call)
      // A failed AppRole login answers 400 (bad ids) or 403.
      if response.status == 400 || response.status == 403 || response.status == 401 {
        throw VaultError.loginFailed(
          method: "AppRole at auth/\(mount)", errors: Self.errors(in: response))
      }
      guard response.isSuccess else {
        throw try self.error(for: response, call, client: client, displayPath: nil)
      }
      return try Self.clientToken(in: response, path: call.path)
    }
  }

  /// A child token with `policies` (tests and least-privilege checks).
  public func createToken(policies: [String], ttl: String = "1h", noDefaultPolicy: Bool = false)
    async throws -> SecretBytes
  {
    try await onPool { client in
      let list = policies.map { "\"\($0)\"" }.joined(separator: ",")
      let body = HTTPBody.text(
        "{\"policies\":[\(list)],\"ttl\":\"\(ttl)\",\"no_default_policy\":\(noDefaultPolicy)}")
      let response = try self.perform(client, Call(.post, "auth/token/create", body: body))
      return try Self.clientToken(in: response, path: "auth/token/create")
    }
  }

  /// Writes an ACL policy.
  public func writePolicy(name: String, rules: String) async throws {
    try await onPool { client in
      let body = SecretJSON.object([("policy", .string(rules))])
      try self.perform(
        client, Call(.put, "sys/policies/acl/\(name)", body: .secret(body.render())))
    }
  }

  /// Mounts a KV engine of `version` (1 or 2) at `path`.
  public func enableKV(at path: String, version: Int = 2) async throws {
    try await enableEngine(at: path, type: "kv", options: ["version": String(version)])
  }

  /// Mounts a secrets engine (`sys/mounts/<path>`).
  public func enableEngine(at path: String, type: String, options: [String: String] = [:])
    async throws
  {
    try await onPool { client in
      let sorted = options.sorted(by: { $0.key < $1.key })
      let body = SecretJSON.object([
        ("type", .string(type)), ("options", .object(sorted.map { ($0.key, .string($0.value)) })),
      ])
      let clean = path.split(separator: "/").joined(separator: "/")
      try self.perform(client, Call(.post, "sys/mounts/" + clean, body: .secret(body.render())))
      self.forgetMount(clean)
    }
  }

  /// Unmounts the engine at `path`, deleting everything in it.
  public func disableMount(at path: String) async throws {
    try await onPool { client in
      let clean = path.split(separator: "/").joined(separator: "/")
      try self.perform(client, Call(.delete, "sys/mounts/" + clean))
      self.forgetMount(clean)
    }
  }

  /// Any other API call, through the same retries and error sentences; for endpoints this
  /// client has no method for (auth backends in tests, `sys/*`). The caller owns the
  /// response body, which may hold secrets.
  public func request(
    _ method: HTTPMethod, _ path: String, body: HTTPBody = .empty, query: String? = nil
  ) async throws -> HTTPResponse {
    try await onPool { client in
      try self.perform(client, Call(method, path, query: query, body: body))
    }
  }

  /// The JSON string at `keys` in a response to `request` (e.g. `["data", "ciphertext"]`
  /// of a Transit answer), decoded into secret bytes; nil when absent, empty or not a string.
  public static func string(at keys: [String], in response: HTTPResponse) -> SecretBytes? {
    response.body.withUnsafeBytes { bytes in
      guard var node = try? JSONParser.parse(bytes) else { return nil }
      var span = 0..<bytes.count
      for key in keys {
        guard let member = node.member(key) else { return nil }
        node = member.value
        span = member.span
      }
      guard case .string(let range) = node, !range.isEmpty else { return nil }
      return node.secret(in: bytes, span: span)
    }
  }

  static func clientToken(in response: HTTPResponse, path: String) throws -> SecretBytes {
    try response.body.withUnsafeBytes { bytes in
      guard let span = try? JSONParser.span(bytes, path: ["auth"]),
        let members = try? JSONParser.memberSpans(bytes, object: span),
        let token = members.first(where: { $0.key == "client_token" })
      else { throw VaultError.invalidResponse(path: path, detail: "no client token") }
      return token.node.secret(in: bytes, span: token.span)
    }
  }
}
