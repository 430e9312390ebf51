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

  private init(kind: Kind, port: Int, directory: String, password: String?) {
    self.kind = kind
    self.port = port
    self.directory = directory
    self.password = password
  }

  /// Starts a fresh server. `password` applies to PostgreSQL (required: one is generated
  /// when nil) and Redis (requirepass when given).
  public static func start(_ kind: Kind, password: String? = nil) throws -> LocalService {
    let directory = try TemporaryDirectory.make(
      prefix: "lockstep-\(kind.rawValue)", removeAtExit: false)
    var password = password
    if kind == .postgres && password == nil { password = "pg-\(UUID().uuidString)" }
    var arguments = ["start", kind.rawValue, directory]
    var lastError = ""
    for _ in 0..<3 {
      let port = FreePort.next(
        pairWithNext: kind == .vault || kind == .vaultTLS || kind == .vaultRaft)
      arguments = ["start", kind.rawValue, directory, String(port), "--watch", String(getpid())]
      if let password {
        let file = directory + "/password"
        _ = FileManager.default.createFile(
          atPath: file, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600])
        arguments += ["--password-file", file]
      }
      let result = try ChildProcess.run(
        "bash", [Repository.root + "/scripts/stack.sh"] + arguments, timeout: .seconds(90))
      if result.succeeded {
        return LocalService(kind: kind, port: port, directory: directory, password: password)
      }
      lastError = result.stderrText
      // The port may have been taken between probing and binding: try another.
      _ = try? ChildProcess.run(
        "bash", [Repository.root + "/scripts/stack.sh", "stop", kind.rawValue, directory])
    }
    throw UserError("could not start \(kind.rawValue): \(lastError)")
  }

  /// Stops the server by the PID in its pid file; idempotent.
  public func stop() {
    _ = try? ChildProcess.run(
      "bash", [Repository.root + "/scripts/stack.sh", "stop", kind.rawValue, directory],
      timeout: .seconds(30))
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

  /// One start per kind even when many tests ask at once; the start itself runs on a
  /// dedicated thread, not on the cooperative pool.
  public func service(_ kind: LocalService.Kind) async throws -> LocalService {
    if let task = starting[kind], let existing = try? await task.value, existing.isRunning {
      return existing
    }
    let task = Task { try await onDedicatedThread { try LocalService.start(kind) } }
    starting[kind] = task
    return try await task.value
  }
}
