import Drift
import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 11 item 6: a hostile server (played by `Tests/Support/http_testserver.py --routes`)
/// gets one sentence and a documented exit code, never a trap, a gigabyte read whole or its
/// escape sequences on the operator's terminal; a child gets descriptors 0–2 only.
@Suite struct HostileAnswerTests {
  /// A scripted server on a free port, killed by PID.
  final class ScriptedServer: @unchecked Sendable {  // immutable after init
    let port: Int
    let pid: Int32
    var address: String { "http://127.0.0.1:\(port)" }

    init(routes: [[String: Any]]) throws {
      let directory = try TemporaryDirectory.make(prefix: "hostile-vault")
      let file = directory + "/routes.json"
      try JSONSerialization.data(withJSONObject: routes).write(to: URL(fileURLWithPath: file))
      let script = Repository.root + "/Tests/Support/http_testserver.py"
      port = FreePort.next()
      let started = try ChildProcess.run(
        "bash",
        [
          "-c",
          "python3 \(script) --port \(port) --parent \(getpid()) --routes \(file) >\(directory)/log 2>&1 & echo $!",
        ], timeout: .seconds(10))
      pid = Int32(started.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
      for _ in 0..<100 {
        if let probe = try? ChildProcess.run(
          "curl", ["-s", "-o", "/dev/null", "\(address)/echo"], timeout: .seconds(5)),
          probe.succeeded
        {
          return
        }
        usleep(50_000)
      }
      throw UserError("the scripted server did not start")
    }

    deinit { kill(pid, SIGKILL) }
  }

  static var mount: [String: Any] {
    [
      "prefix": "/v1/sys/internal/ui/mounts/",
      "body": #"{"data":{"path":"secret/","type":"kv","options":{"version":"2"}}}"#,
    ]
  }

  func render(_ server: ScriptedServer, extra: [String: String] = [:]) throws
    -> ChildProcess.Result
  {
    var environment = [
      "PATH": "/usr/bin:/bin", "VAULT_ADDR": server.address, "VAULT_TOKEN": "hostile-test",
      "VAULT_MAX_RETRIES": "0", "NO_COLOR": "1",
    ]
    environment.merge(extra) { $1 }
    return try ChildProcess.run(
      Repository.lockstepBinary, ["env", "render", "--vault", "secret/app", "--stdout"],
      environment: environment, timeout: .seconds(60))
  }

  @Test func aNumberOutOfRangeIsNeverATrap() throws {
    let server = try ScriptedServer(routes: [
      Self.mount,
      [
        "prefix": "/v1/secret/data/app",
        "body": #"{"data":{"data":{"A":"1"},"metadata":{"version":1e999}}}"#,
      ],
    ])
    let result = try render(server)
    #expect(result.status < 128, "trapped: \(result.status) \(result.stderrText)")
    #expect(!result.stderrText.contains("Fatal error"))
    #expect(result.status == 1, "\(result.stderrText)")
    #expect(result.stderrText.contains("could not be understood"), "\(result.stderrText)")
    #expect(result.stdout.isEmpty)
  }

  @Test(arguments: [false, true])
  func anAnswerAboveTheCapIsRefusedUnread(chunked: Bool) throws {
    // 96 MiB: above the 64 MiB default; streamed by the server, so only the client could
    // hold it whole.
    let server = try ScriptedServer(routes: [
      Self.mount,
      [
        "prefix": "/v1/secret/data/app", "body": String(repeating: " ", count: 1 << 20),
        "repeat": 96, "chunked": chunked,
      ],
    ])
    let started = ContinuousClock.now
    let result = try render(server)
    #expect(result.status == 65, "\(result.stderrText)")
    #expect(result.stderrText.contains("larger than 64 MiB"), "\(result.stderrText)")
    #expect(ContinuousClock.now - started < .seconds(30))
    let small = try render(server, extra: ["LOCKSTEP_MAX_RESPONSE_MIB": "1"])
    #expect(small.status == 65)
    #expect(small.stderrText.contains("larger than 1 MiB"), "\(small.stderrText)")
  }

  @Test func serverTextIsEscapedBeforeItIsPrinted() throws {
    let paint = "\\u001b[2K\\r\\u001b[32mALL CHECKS PASSED\\u001b[0m\\n\\u009b1m"
    let server = try ScriptedServer(routes: [
      Self.mount,
      [
        "prefix": "/v1/secret/data/app", "status": 403,
        "body": #"{"errors":["permission denied \#(paint)"]}"#,
      ],
    ])
    let result = try render(server)
    #expect(result.status != 0)
    let raw = result.stderr + result.stdout
    #expect(!raw.contains(0x1B), "\(result.stderrText)")
    #expect(!raw.contains(0x0D))
    #expect(!result.stderrText.unicodeScalars.contains { $0.value == 0x9B })
    #expect(result.stderrText.filter { $0 == "\n" }.count == 1, "\(result.stderrText)")
    #expect(result.stderrText.contains(#"\e[32mALL CHECKS PASSED"#))
  }

  /// The reproduction: kubectl started while the Vault connection is open must not
  /// inherit it. A fake kubectl on PATH writes the descriptors it has.
  @Test func kubectlGetsOnlyDescriptorsZeroToTwo() async throws {
    let vault = try await VaultTesting.shared()
    let mount = try vault.freshMount()
    let client = VaultClient(
      configuration: VaultConfiguration(
        address: vault.address, token: SecretBytes(utf8: VaultTesting.rootToken)))
    try await client.write("\(mount)/app", SecretMap([(key: "A", value: SecretBytes(utf8: "1"))]))
    let fixture = try DriftFixture.make()
    let bin = fixture.root + "/bin"
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    let listing = fixture.root + "/fds.txt"
    try """
    #!/bin/sh
    for fd in /proc/$$/fd/*; do readlink "$fd"; done > '\(listing)'
    echo 'error: stand-in kubectl' >&2
    exit 1

    """.write(toFile: bin + "/kubectl", atomically: true, encoding: .utf8)
    chmod(bin + "/kubectl", 0o755)
    let home = try TemporaryDirectory.make(prefix: "fd-home")
    _ = FileManager.default.createFile(
      atPath: home + "/.vault-token", contents: Data(VaultTesting.rootToken.utf8),
      attributes: [.posixPermissions: 0o600])
    let result = try fixture.run(
      [
        "drift", "--expect", "vault:\(mount)/app", "--against", "vault:\(mount)/app",
        "k8s:default/app",
      ],
      environment: ["PATH": "\(bin):/usr/bin:/bin", "VAULT_ADDR": vault.address, "HOME": home])
    #expect(result.status == 1, "\(result.stderrText)")
    // What the shell holds: its stdio pipes, its own script and the directory it lists,
    // nothing of Lockstep's (the Vault socket, a file).
    let targets = try String(contentsOfFile: listing, encoding: .utf8)
      .split(separator: "\n").map(String.init)
    #expect(targets.count >= 3, "\(targets)")
    let foreign = targets.filter {
      !$0.hasPrefix("pipe:") && !$0.hasSuffix("/bin/kubectl") && !$0.hasPrefix("/proc/")
        && $0 != "/dev/null" && !$0.hasSuffix("/fds.txt")
    }
    #expect(foreign.isEmpty, "kubectl inherited \(foreign) of \(targets)")
  }

  /// A trap prints one sentence, never registers or memory (the hidden `_crash` command).
  @Test func aCrashPrintsNoMemory() throws {
    let result = try ChildProcess.run(
      Repository.lockstepBinary, ["_crash"], environment: ["PATH": "/usr/bin:/bin"],
      timeout: .seconds(60))
    #expect(result.status == 70, "\(result.status) \(result.stderrText)")
    let text = result.stderrText
    #expect(text.contains("lockstep: internal error"), "\(text)")
    for leak in ["0x0", "Registers", "rip", "rsp", "Thread 0", "Backtrace", "Memory"] {
      #expect(!text.contains(leak), "\(leak) in \(text)")
    }
  }
}
