import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// A real `MONITOR` client (`redis-cli MONITOR`) on a Redis server, writing every command
/// the server sees to a file: what an operator tailing the server would read. Tests check
/// that no secret value is in it.
public final class RedisMonitor: @unchecked Sendable {
  // @unchecked Sendable: `process` is only touched by `stop()`, which is idempotent.
  private let process: Process
  public let outputFile: String

  /// Starts the client and waits until the server has acknowledged `MONITOR`.
  public init(_ service: LocalService) throws {
    outputFile = service.directory + "/monitor-\(UUID().uuidString).txt"
    _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
    guard let executable = ChildProcess.which("redis-cli") else {
      throw UserError("redis-cli was not found on PATH")
    }
    process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    var arguments = ["-h", service.host, "-p", String(service.port)]
    if service.password != nil { arguments.append("--no-auth-warning") }
    process.arguments = arguments + ["MONITOR"]
    var environment = ProcessInfo.processInfo.environment
    // Test-only requirepass, given to redis-cli the way it reads it without argv.
    if let password = service.password { environment["REDISCLI_AUTH"] = password }
    process.environment = environment
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    guard wait(for: "OK", timeout: .seconds(20)) else {
      stop()
      throw UserError("redis-cli MONITOR did not start on port \(service.port)")
    }
  }

  /// Everything captured so far.
  public var text: String {
    (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
  }

  /// Waits until `needle` has been captured; false after `timeout`.
  public func wait(for needle: String, timeout: Duration = .seconds(20)) -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
      if text.contains(needle) { return true }
      usleep(20_000)
    }
    return text.contains(needle)
  }

  /// Stops the client by its PID (SIGKILL: a child started from a Swift task may have
  /// SIGTERM blocked).
  public func stop() {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  deinit { stop() }
}
