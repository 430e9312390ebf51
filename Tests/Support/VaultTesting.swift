import Foundation
import LockstepCore

/// Test access to an OpenBao dev server started by `LocalService.start(.vault)`: fresh
/// mounts, policies, tokens holding only a given policy, AppRole roles, sealing.
///
/// It talks to the server with `curl`, independently of the Vault module under test, and
/// passes the token as a header on stdin so that even the dev root token stays out of argv
/// and out of the child's environment. Each test should take a mount of its own.
public struct VaultTesting: Sendable {
  public let service: LocalService

  public init(_ service: LocalService) {
    precondition(
      service.kind == .vault || service.kind == .vaultRaft,
      "VaultTesting needs a vault LocalService")
    self.service = service
  }

  /// The shared OpenBao of this test process.
  public static func shared() async throws -> VaultTesting {
    VaultTesting(try await SharedServices.shared.service(.vault))
  }

  public var address: String { "http://127.0.0.1:\(service.port)" }
  /// The dev server's root token (a test-only credential).
  public static let rootToken = "root"

  /// A mount name no other test uses.
  public static func uniqueName(_ prefix: String = "t") -> String {
    prefix + "-" + UUID().uuidString.prefix(8).lowercased()
  }

  /// Enables a KV mount of `version` with a unique name and returns the name.
  @discardableResult
  public func freshMount(version: Int = 2, name: String = VaultTesting.uniqueName("kv")) throws
    -> String
  {
    try call(
      "POST", "sys/mounts/\(name)",
      body: "{\"type\":\"kv\",\"options\":{\"version\":\"\(version)\"}}")
    return name
  }

  /// Writes the ACL policy `name` and returns a token holding only it (plus `default`).
  public func token(policy name: String, rules: String) throws -> SecretBytes {
    try writePolicy(name, rules: rules)
    let answer = try call(
      "POST", "auth/token/create", body: "{\"policies\":[\"\(name)\"],\"ttl\":\"1h\"}")
    guard let auth = answer["auth"] as? [String: Any], let token = auth["client_token"] as? String
    else { throw UserError("no client token in the answer") }
    return SecretBytes(utf8: token)
  }

  public func writePolicy(_ name: String, rules: String) throws {
    let body = try JSONSerialization.data(withJSONObject: ["policy": rules])
    try call("PUT", "sys/policies/acl/\(name)", body: String(decoding: body, as: UTF8.self))
  }

  /// Enables AppRole at a unique path with a role holding `policies`; returns the mount,
  /// the role id and a fresh secret id.
  public func appRole(policies: [String]) throws -> (
    mount: String, roleID: String, secretID: SecretBytes
  ) {
    let mount = Self.uniqueName("approle")
    try call("POST", "sys/auth/\(mount)", body: "{\"type\":\"approle\"}")
    let list = policies.map { "\"\($0)\"" }.joined(separator: ",")
    try call("POST", "auth/\(mount)/role/app", body: "{\"token_policies\":[\(list)]}")
    let role = try call("GET", "auth/\(mount)/role/app/role-id")
    let secret = try call("POST", "auth/\(mount)/role/app/secret-id", body: "{}")
    guard let roleID = (role["data"] as? [String: Any])?["role_id"] as? String,
      let secretID = (secret["data"] as? [String: Any])?["secret_id"] as? String
    else { throw UserError("AppRole setup answered without ids") }
    return (mount, roleID, SecretBytes(utf8: secretID))
  }

  /// Seals the server (the API call behind `bao operator seal`). Use a dedicated server.
  public func seal() throws {
    try call("PUT", "sys/seal")
  }

  /// One API call as root; returns the decoded JSON answer (empty for 204).
  @discardableResult
  public func call(_ method: String, _ path: String, body: String? = nil) throws
    -> [String: Any]
  {
    var arguments = ["-sS", "-X", method, "-H", "@-", "-w", "\n%{http_code}"]
    if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
    arguments.append("\(address)/v1/\(path)")
    let result = try ChildProcess.run(
      "curl", arguments, stdin: SecretBytes(utf8: "X-Vault-Token: \(Self.rootToken)\n"),
      timeout: .seconds(30))
    let text = result.stdoutText
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let status = Int(lines.last ?? "") ?? 0
    guard result.succeeded, (200..<300).contains(status) else {
      throw UserError("\(method) \(path) answered \(status): \(lines.dropLast().joined())")
    }
    let json = lines.dropLast().joined(separator: "\n")
    guard !json.isEmpty else { return [:] }
    return (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
  }
}
