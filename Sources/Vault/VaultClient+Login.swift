import Foundation
import HTTP
import LockstepCore

/// Logins for unattended jobs (AppRole, JWT) and renewal for long runs.
///
/// With `configuration.login` set, the client logs in before its first authenticated call
/// and keeps the token fresh: once two thirds of its TTL have passed it calls
/// `auth/token/renew-self` (which the `default` policy allows), and logs in again when the
/// token cannot be renewed or its max TTL leaves too little. A static `VAULT_TOKEN` is used
/// as it is.
extension VaultClient {
  /// Logins and renewals this client made (tests, `--json` reports).
  public var sessionCounters: (logins: Int, renewals: Int) {
    let counters = session.counters.withLock { $0 }
    return (counters.logins, counters.renewals)
  }

  /// Logs in now (instead of at the first call), so that a wrong secret id or a forged
  /// JWT fails before any other work; a no-op without a configured login.
  public func loginIfConfigured() async throws {
    guard configuration.login != nil else { return }
    _ = try await onPool { client in try self.currentToken(client) }
  }

  /// The token for an authenticated call: the static one, or the session's, logging in or
  /// renewing first when needed. Runs on a pool thread (blocking I/O).
  func currentToken(_ client: HTTPClient) throws -> SecretBytes {
    guard let login = configuration.login else {
      guard let token = configuration.token else { throw VaultError.noToken }
      return token
    }
    if let token = session.usableToken(now: session.now()) { return token }
    return try session.refreshing.withLock { _ in
      // Another thread may have refreshed while this one waited.
      if let token = session.usableToken(now: session.now()) { return token }
      if let current = session.grant.withLock({ $0 }), current.renewable,
        let ttl = current.ttl, session.now() - current.obtained < ttl,
        let renewed = try? renew(client, current),
        renewed.ttl.map({ $0 >= (current.loginTTL ?? ttl) / 2 }) ?? true
      {
        session.grant.withLock { $0 = renewed }
        session.counters.withLock { $0.renewals += 1 }
        return renewed.token
      }
      let fresh = try self.login(client, login)
      session.grant.withLock { $0 = fresh }
      session.counters.withLock { $0.logins += 1 }
      return fresh.token
    }
  }

  /// `auth/<path>/login` with the method's body; the secret parts are read from their files
  /// now and wiped with the body.
  func login(_ client: HTTPClient, _ login: VaultLogin) throws -> VaultSession.Grant {
    let body: SecretJSON
    switch login.method {
    case .appRole(let roleID, let secretIDFile):
      let role: SecretJSON
      switch roleID {
      case .file(let path): role = .secretString(try VaultConfiguration.readSecretFile(path))
      case .value(let text): role = .string(text)
      }
      let secretID = try Self.readLoginFile(secretIDFile, what: "secret id")
      body = .object([("role_id", role), ("secret_id", .secretString(secretID))])
    case .jwt(let role, let tokenFile):
      let jwt = try Self.readLoginFile(tokenFile, what: "JWT")
      body = .object([("role", .string(role)), ("jwt", .secretString(jwt))])
    }
    let call = Call(
      .post, "auth/\(login.path)/login", body: .secret(body.render()), authenticated: false)
    let response = try send(client, call)
    // A refused login answers 400 (AppRole: bad ids; JWT: bad signature, expired, wrong
    // audience), 401 or 403; the method's own words go into the sentence.
    if [400, 401, 403].contains(response.status) {
      throw VaultError.loginFailed(method: login.description, errors: Self.errors(in: response))
    }
    guard response.isSuccess else {
      throw try error(for: response, call, client: client, displayPath: nil)
    }
    var grant = try self.grant(in: response, path: call.path)
    grant.loginTTL = grant.ttl
    return grant
  }

  /// `auth/token/renew-self` for the current token; nil when refused.
  func renew(_ client: HTTPClient, _ current: VaultSession.Grant) throws -> VaultSession.Grant? {
    var call = Call(.post, "auth/token/renew-self", body: .text("{}"))
    call.token = current.token
    let response = try send(client, call)
    guard response.isSuccess else { return nil }
    var grant = try self.grant(in: response, path: call.path)
    grant.loginTTL = current.loginTTL
    return grant
  }

  func grant(in response: HTTPResponse, path: String) throws -> VaultSession.Grant {
    let token = try Self.clientToken(in: response, path: path)
    return response.body.withUnsafeBytes { bytes in
      let auth = (try? JSONParser.parse(bytes))?["auth"]
      let seconds = auth?["lease_duration"]?.int(in: bytes) ?? 0
      return VaultSession.Grant(
        token: token, ttl: seconds > 0 ? .seconds(seconds) : nil,
        renewable: auth?["renewable"]?.bool ?? false, obtained: session.now(),
        loginTTL: nil)
    }
  }

  /// A login file that is missing or empty ends in one sentence naming the file, never its
  /// contents.
  static func readLoginFile(_ path: String, what: String) throws -> SecretBytes {
    let secret = try VaultConfiguration.readSecretFile(path)
    guard !secret.isEmpty else {
      throw VaultError.unreadableFile(path: path, reason: "the \(what) file is empty")
    }
    return secret
  }
}
