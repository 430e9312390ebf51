import Foundation
import HTTP
import LockstepCore

/// Where Vault is and how to authenticate, read the way the `vault` CLI reads it.
public struct VaultConfiguration: Sendable {
  /// Base address without `/v1`, e.g. `https://vault.example.com:8200`.
  public var address: String
  public var token: SecretBytes?
  /// A login to get the token with (AppRole, JWT); used instead of `token` when set.
  public var login: VaultLogin?
  /// Sent as `X-Vault-Namespace` (Vault Enterprise / OpenBao namespaces).
  public var namespace: String?
  public var caFile: String?
  public var caPath: String?
  /// Only true when the user set `VAULT_SKIP_VERIFY` to a true value explicitly.
  public var skipVerify: Bool
  public var connectTimeout: Duration
  public var requestTimeout: Duration
  /// Retries (429, 5xx except sealed, connection errors) stop once this much time passed.
  public var retryDeadline: Duration
  /// Retries after the first attempt (`VAULT_MAX_RETRIES`, as the vault CLI; default 4).
  public var maxRetries: Int
  /// How many requests a walk keeps in flight, each on its own kept-alive connection.
  public var parallelism: Int
  /// The largest answer accepted (default 64 MiB, `LOCKSTEP_MAX_RESPONSE_MIB`): Vault's own
  /// request limit is 32 MiB, so anything larger is a hostile or broken server.
  public var maxResponseBytes = 64 * 1_048_576

  public init(
    address: String, token: SecretBytes? = nil, namespace: String? = nil,
    caFile: String? = nil, caPath: String? = nil, skipVerify: Bool = false,
    connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(30),
    retryDeadline: Duration = .seconds(10), maxRetries: Int = 4, parallelism: Int = 16
  ) {
    var trimmed = address
    while trimmed.hasSuffix("/") { trimmed.removeLast() }
    if trimmed.hasSuffix("/v1") { trimmed.removeLast(3) }
    self.address = trimmed
    self.token = token
    self.namespace = namespace
    self.caFile = caFile
    self.caPath = caPath
    self.skipVerify = skipVerify
    self.connectTimeout = connectTimeout
    self.requestTimeout = requestTimeout
    self.retryDeadline = retryDeadline
    self.maxRetries = maxRetries
    self.parallelism = parallelism
  }

  /// `VAULT_ADDR` (default `https://127.0.0.1:8200`, as the CLI), `VAULT_TOKEN` else
  /// `~/.vault-token`, `VAULT_NAMESPACE`, `VAULT_CACERT`, `VAULT_CAPATH`,
  /// `VAULT_SKIP_VERIFY` (only a true value turns verification off).
  public static func fromEnvironment(
    _ environment: [String: String] = ProcessInfo.processInfo.environment,
    homeDirectory: String? = nil
  ) throws -> VaultConfiguration {
    func value(_ name: String) -> String? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      return text
    }
    var configuration = VaultConfiguration(
      address: value("VAULT_ADDR") ?? "https://127.0.0.1:8200")
    configuration.namespace = value("VAULT_NAMESPACE")
    if let retries = value("VAULT_MAX_RETRIES").flatMap(Int.init) {
      configuration.maxRetries = max(0, retries)
    }
    if let mebibytes = value("LOCKSTEP_MAX_RESPONSE_MIB").flatMap(Int.init), mebibytes > 0 {
      configuration.maxResponseBytes = min(mebibytes, 1 << 20) * 1_048_576
    }
    configuration.caFile = value("VAULT_CACERT")
    configuration.caPath = value("VAULT_CAPATH")
    if let skip = value("VAULT_SKIP_VERIFY")?.lowercased() {
      configuration.skipVerify = ["1", "true", "t", "yes", "y"].contains(skip)
    }
    configuration.login = try VaultLogin.fromEnvironment(environment)
    if let token = environment["VAULT_TOKEN"], !token.isEmpty {
      configuration.token = SecretBytes(utf8: token)
    } else {
      let home = homeDirectory ?? environment["HOME"] ?? NSHomeDirectory()
      let path = home + "/.vault-token"
      if FileManager.default.fileExists(atPath: path) {
        let token = try readSecretFile(path)
        if !token.isEmpty { configuration.token = token }
      }
    }
    return configuration
  }

  /// Reads a secret from a file (a token, an AppRole secret id) without the trailing
  /// newline editors and `echo` add.
  public static func readSecretFile(_ path: String) throws -> SecretBytes {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw VaultError.unreadableFile(path: path, reason: "cannot open it")
    }
    defer { try? handle.close() }
    guard var data = try? handle.readToEnd() else {
      throw VaultError.unreadableFile(path: path, reason: "read failed")
    }
    defer { data.resetBytes(in: 0..<data.count) }
    var end = data.count
    while end > 0, [0x0A, 0x0D, 0x20, 0x09].contains(data[end - 1]) { end -= 1 }
    var start = 0
    while start < end, [0x20, 0x09].contains(data[start]) { start += 1 }
    return SecretBytes(count: end - start) { target in
      data.withUnsafeBytes { source in
        target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<end]))
      }
    }
  }

  var httpSettings: HTTPClient.Settings {
    HTTPClient.Settings(
      connectTimeout: connectTimeout, timeout: requestTimeout, caFile: caFile, caPath: caPath,
      insecureSkipVerify: skipVerify, maxResponseBytes: maxResponseBytes)
  }
}
