import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// A real server on 127.0.0.1, started by `scripts/stack.sh` (the same script behind
/// `make stack-up`) in its own temporary directory on a free port.
///
/// It is stopped by PID three ways: `stop()`, `deinit`, and a watcher process that the
/// script starts with `--watch`, which stops the server when the test process exits, also
/// when a test crashes it.
public final class LocalService: Sendable {
  public enum Kind: String, Sendable {
    case vault, postgres, redis, s3, k8s
    /// OpenBao with `-dev-tls`: HTTPS with a CA of its own, at `tlsCAFile`.
    case vaultTLS = "vault-tls"
    /// A one-node OpenBao on integrated storage (Raft), initialised with one key share and
    /// unsealed; a root token with the id `root`, KV v2 at `secret/`, Transit at `transit/`.
    /// The unseal key is in `raftInitFile`.
    case vaultRaft = "vault-raft"
  }

  /// For `.vaultTLS`: the CA that signed the server's certificate.
  public var tlsCAFile: String { directory + "/tls/vault-ca.pem" }
  /// For `.vaultRaft`: `bao operator init`'s JSON (unseal key, initial root token).
  public var raftInitFile: String { directory + "/vault-raft-init.json" }

  public let kind: Kind
  public let port: Int
  public let directory: String
  /// The password the server was started with (PostgreSQL superuser, Redis requirepass).
  /// Test-only credentials, never a user's secret.
  public let password: String?

  public var host: String { "127.0.0.1" }

  /// For `.s3`: the access key of the IAM user `stack.sh` created at start-up. moto checks
  /// signatures, so every S3 request must be signed with this key (test-only credentials).
  public var s3AccessKeyID: String { stateFile("s3-access-key-id") }
  public var s3SecretAccessKey: String { stateFile("s3-secret-access-key") }
  /// For `.s3`: a role that `AssumeRoleWithWebIdentity` can assume, with an allow-all policy.
  public var s3RoleARN: String { stateFile("s3-role-arn") }
  /// For `.s3`: `AWS_*` variables with the endpoint and the user's key.
  public var s3Environment: [String: String] {
    [
      "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)", "AWS_ACCESS_KEY_ID": s3AccessKeyID,
      "AWS_SECRET_ACCESS_KEY": s3SecretAccessKey, "AWS_REGION": "us-east-1",
    ]
  }

  private func stateFile(_ name: String) -> String {
    ((try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "")
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  private init(kind: Kind, port: Int, directory: String, password: String?) {
    self.kind = kind
    self.port = port
    self.directory = directory
    self.password = password
  }

  /// Starts a fresh server. `password` applies to PostgreSQL (required: one is generated
  /// when nil) and Redis (requirepass when given).
  ///
  /// Each attempt gets a directory of its own in the per-user runtime directory (reachable
  /// by the `postgres` user whatever the checkout's permissions): a failed attempt's
  /// leftovers, such as a half-made PostgreSQL cluster, never meet the next attempt.
  public static func start(_ kind: Kind, password: String? = nil) throws -> LocalService {
    var password = password
    if kind == .postgres && password == nil { password = "pg-\(UUID().uuidString)" }
    var lastError = ""
    for _ in 0..<3 {
      let directory = try TemporaryDirectory.make(
        prefix: kind.rawValue, in: TemporaryDirectory.runtime(), removeAtExit: false)
      let port = FreePort.next(
        pairWithNext: kind == .vault || kind == .vaultTLS || kind == .vaultRaft)
      var arguments = [
        "start", kind.rawValue, directory, String(port), "--watch", String(getpid()),
      ]
      if let password {
        let file = directory + "/password"
        _ = FileManager.default.createFile(
          atPath: file, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600])
        arguments += ["--password-file", file]
      }
      let result = try ChildProcess.run(
        "bash", [Repository.root + "/scripts/stack.sh"] + arguments, timeout: .seconds(90),
        directory: "/")
      if result.succeeded {
        return LocalService(kind: kind, port: port, directory: directory, password: password)
      }
      lastError = result.stderrText
      // The port may have been taken between probing and binding: stop whatever started,
      // drop this attempt's directory and try again on another port.
      _ = try? ChildProcess.run(
        "bash", [Repository.root + "/scripts/stack.sh", "stop", kind.rawValue, directory],
        timeout: .seconds(30), directory: "/")
      try? FileManager.default.removeItem(atPath: directory)
    }
    throw UserError("could not start \(kind.rawValue): \(lastError)")
  }

  /// Stops the server by the PID in its pid file; idempotent.
  public func stop() {
    _ = try? ChildProcess.run(
      "bash", [Repository.root + "/scripts/stack.sh", "stop", kind.rawValue, directory],
      timeout: .seconds(30), directory: "/")
  }

  deinit {
    stop()
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// Whether the server process is alive.
  public var isRunning: Bool {
    guard
      let text = try? String(contentsOfFile: "\(directory)/\(kind.rawValue).pid", encoding: .utf8),
      let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    else { return false }
    return kill(pid, 0) == 0
  }
}

/// Runs `body` with a fresh server and stops it afterwards, also when `body` throws.
public func withLocalService<R>(
  _ kind: LocalService.Kind, password: String? = nil,
  _ body: (LocalService) async throws -> R
) async throws -> R {
  // Started on a thread of its own: a blocking start on the cooperative pool (two threads
  // on a two-core machine) would stall every other test in the process.
  let service = try await onDedicatedThread { try LocalService.start(kind, password: password) }
  defer { service.stop() }
  return try await body(service)
}

/// One server of each kind per test process, started on first use and shared by tests that
/// each take a namespace of their own on it (a Vault mount, a database, a key prefix).
public actor SharedServices {
  public static let shared = SharedServices()
  private var starting: [LocalService.Kind: Task<LocalService, any Error>] = [:]

  /// Exactly one start per kind: the first caller creates the start task before its first
  /// suspension point, every later caller awaits that same task and gets its result, a
  /// failure included. Nothing is ever restarted or replaced, so no test loses a server
  /// (and its port) to another test's retry. The start runs on a dedicated thread, not on
  /// the cooperative pool.
  public func service(_ kind: LocalService.Kind) async throws -> LocalService {
    if let task = starting[kind] { return try await task.value }
    let task = Task { try await onDedicatedThread { try LocalService.start(kind) } }
    starting[kind] = task
    return try await task.value
  }
}
