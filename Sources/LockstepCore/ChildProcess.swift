internal import CSystem
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs a child program with `posix_spawn`, feeding its stdin and collecting its output.
///
/// Written for kubectl and the test servers, with the traps DESIGN.md lists handled:
/// SIGPIPE is ignored so a child that exits before reading all of its stdin gives EPIPE, not
/// a dead parent; the child gets an empty signal mask and default dispositions (a child of a
/// Swift thread would otherwise inherit a blocked SIGTERM); the child gets descriptors 0–2
/// only, whatever was opened without close-on-exec; a timeout kills the child's whole
/// process group with SIGKILL. Secret material goes on stdin only: argv and environment are
/// visible to other users through /proc.
public enum ChildProcess {
  public struct Result: Sendable {
    public let status: Int32
    public let stdout: [UInt8]
    public let stderr: [UInt8]
    public let timedOut: Bool

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    public var succeeded: Bool { status == 0 && !timedOut }
  }

  public struct Failure: LockstepError {
    public let description: String
    public var exitStatus: ExitStatus { .failure }
  }

  private static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

  /// Finds `name` on `PATH` (or returns it when it contains a slash).
  public static func which(_ name: String, path: String? = nil) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    let search = path ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in search.split(separator: ":") {
      let candidate = "\(directory)/\(name)"
      if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
  }

  /// Runs `executable` to completion. Blocking: call it from a thread that may block
  /// (see `runDetached`), never from the cooperative pool in a loop.
  public static func run(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    stdin: SecretBytes? = nil, timeout: Duration? = nil, directory: String? = nil
  ) throws(Failure) -> Result {
    _ = ignoreSIGPIPE
    guard let path = which(executable) else {
      throw Failure(description: "\(executable) was not found on PATH")
    }
    var inPipe: [Int32] = [-1, -1]
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    guard lockstep_pipe_cloexec(&inPipe) == 0, lockstep_pipe_cloexec(&outPipe) == 0,
      lockstep_pipe_cloexec(&errPipe) == 0
    else { throw Failure(description: "could not create pipes for \(executable)") }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
    // Only 0–2 reach the child: the Vault socket, a libpq connection or an open backup
    // must not outlive us in kubectl or its exec plugins.
    guard lockstep_spawn_addclosefrom(&actions, 3) == 0 else {
      throw Failure(description: "could not prepare descriptors for \(executable)")
    }
    if let directory { lockstep_spawn_addchdir(&actions, directory) }

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGPIPE)
    sigaddset(&defaults, SIGTERM)
    sigaddset(&defaults, SIGINT)
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
      &attributes,
      Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

    let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    var pid: pid_t = 0
    var spawnResult: Int32 = 0
    // ETXTBSY: the executable was just written, and another thread's fork still holds the
    // writer's descriptor until that child execs (a test writing a hook script, or a tool
    // deploying one). That passes within milliseconds: try again for up to a second.
    for attempt in 0..<20 {
      spawnResult = withCStrings([path] + arguments) { argv in
        withCStrings(env) { envp in
          posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        }
      }
      guard spawnResult == ETXTBSY, attempt < 19 else { break }
      usleep(50_000)
    }
    close(inPipe[0])
    close(outPipe[1])
    close(errPipe[1])
    guard spawnResult == 0 else {
      close(inPipe[1])
      close(outPipe[0])
      close(errPipe[0])
      throw Failure(
        description: "could not start \(executable): \(String(cString: strerror(spawnResult)))")
    }

    let collected = pump(
      stdin: stdin, inFD: inPipe[1], outFD: outPipe[0], errFD: errPipe[0], pid: pid,
      timeout: timeout)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let code: Int32 =
      (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return Result(
      status: code, stdout: collected.out, stderr: collected.err, timedOut: collected.timedOut)
  }

  /// Runs `run` on a dedicated thread so that an async caller does not block a thread of
  /// Swift's cooperative pool while the child runs.
  public static func runDetached(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    stdin: SecretBytes? = nil, timeout: Duration? = nil, directory: String? = nil
  ) async throws(Failure) -> Result {
    let outcome: Swift.Result<Result, Failure> = await withCheckedContinuation { continuation in
      let thread = Thread {
        do {
          continuation.resume(
            returning: .success(
              try run(
                executable, arguments, environment: environment, stdin: stdin,
                timeout: timeout, directory: directory)))
        } catch let failure as Failure {
          continuation.resume(returning: .failure(failure))
        } catch {
          continuation.resume(returning: .failure(Failure(description: "\(error)")))
        }
      }
      thread.start()
    }
    return try outcome.get()
  }

  private static func pump(
    stdin: SecretBytes?, inFD: Int32, outFD: Int32, errFD: Int32, pid: pid_t,
    timeout: Duration?
  ) -> (out: [UInt8], err: [UInt8], timedOut: Bool) {
    var out: [UInt8] = []
    var err: [UInt8] = []
    var written = 0
    let input = stdin
    var inOpen = true
    if input == nil || input!.isEmpty {
      close(inFD)
      inOpen = false
    } else {
      _ = fcntl(inFD, F_SETFL, fcntl(inFD, F_GETFL) | O_NONBLOCK)
    }
    var outOpen = true
    var errOpen = true
    let deadline = timeout.map { ContinuousClock.now + $0 }
    var timedOut = false
    var buffer = [UInt8](repeating: 0, count: 65536)
    while outOpen || errOpen {
      var fds: [pollfd] = []
      if inOpen { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
      if outOpen { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
      if errOpen { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
      var wait: Int32 = -1
      if let deadline {
        let left = deadline - ContinuousClock.now
        if left <= .zero {
          timedOut = true
          kill(-pid, SIGKILL)
          kill(pid, SIGKILL)
          break
        }
        let ms =
          left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
        wait = Int32(clamping: max(1, ms))
      }
      let ready = poll(&fds, nfds_t(fds.count), wait)
      if ready < 0 && errno == EINTR { continue }
      if ready <= 0 { continue }
      for entry in fds where entry.revents != 0 {
        if entry.fd == inFD, let input {
          let n = input.withUnsafeBytes { raw in
            write(inFD, raw.baseAddress! + written, raw.count - written)
          }
          if n > 0 { written += n }
          if n < 0 && errno != EAGAIN && errno != EINTR || written >= input.count {
            close(inFD)
            inOpen = false
          }
        } else {
          let n = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
          if n > 0 {
            if entry.fd == outFD {
              out.append(contentsOf: buffer[0..<n])
            } else {
              err.append(contentsOf: buffer[0..<n])
            }
          } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
            close(entry.fd)
            if entry.fd == outFD { outOpen = false } else { errOpen = false }
          }
        }
      }
    }
    if inOpen { close(inFD) }
    if outOpen { close(outFD) }
    if errOpen { close(errFD) }
    SecretBytes.wipe(&buffer)
    return (out, err, timedOut)
  }

  private static func withCStrings<R>(
    _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
  ) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}
