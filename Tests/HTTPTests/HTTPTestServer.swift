import Foundation
import HTTP
import LockstepCore
import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// `Tests/Support/http_testserver.py` on a free port, stopped by PID on `stop()`/`deinit`
/// and by itself when the test process dies (`--parent`).
final class HTTPTestServer: Sendable {
  let port: Int
  let pid: Int32
  let directory: String
  /// The CA that signed the server certificate, when serving HTTPS.
  let caFile: String?

  var base: String { "\(caFile == nil ? "http" : "https")://127.0.0.1:\(port)" }

  private init(port: Int, pid: Int32, directory: String, caFile: String?) {
    self.port = port
    self.pid = pid
    self.directory = directory
    self.caFile = caFile
  }

  static func start(tls: Bool = false) throws -> HTTPTestServer {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-http")
    var extra = ""
    var caFile: String?
    if tls {
      try makeCertificates(in: directory)
      extra = " --cert \(directory)/server.pem --key \(directory)/server.key"
      caFile = directory + "/ca.pem"
    }
    let script = Repository.root + "/Tests/Support/http_testserver.py"
    let port = FreePort.next()
    let result = try ChildProcess.run(
      "bash",
      [
        "-c",
        "python3 \(script) --port \(port) --parent \(getpid())\(extra) >\(directory)/server.log 2>&1 & echo $!",
      ], timeout: .seconds(10))
    guard let pid = Int32(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))
    else { throw UserError("could not start the HTTP test server") }
    let server = HTTPTestServer(port: port, pid: pid, directory: directory, caFile: caFile)
    let client = try HTTPClient(settings: .init(caFile: caFile))
    for _ in 0..<100 {
      if (try? client.send(HTTPRequest(.get, server.base + "/echo"))) != nil { return server }
      usleep(50_000)
    }
    server.stop()
    throw UserError("the HTTP test server did not start on port \(port)")
  }

  func stop() {
    kill(pid, SIGKILL)
  }

  deinit {
    stop()
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// A throwaway CA and a server certificate for 127.0.0.1 signed by it, with the
  /// `openssl` CLI.
  private static func makeCertificates(in directory: String) throws {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    let steps: [[String]] = [
      ["req", "-x509"] + ec + [
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Lockstep Test CA",
      ],
      ["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
      [
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
      ],
    ]
    try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n".write(
      toFile: directory + "/ext.cnf", atomically: false, encoding: .utf8)
    for step in steps {
      let result = try ChildProcess.run(
        "openssl", step, timeout: .seconds(30), directory: directory)
      guard result.succeeded else { throw UserError("openssl failed: \(result.stderrText)") }
    }
  }
}

/// The echo endpoint's answer.
struct Echo {
  let method: String
  let headers: [String: String]
  let body: String
  let connection: Int

  init(_ response: HTTPResponse) throws {
    let object = try JSONSerialization.jsonObject(with: Data(response.text.utf8))
    guard let dictionary = object as? [String: Any] else { throw UserError("not an echo") }
    method = dictionary["method"] as? String ?? ""
    headers = dictionary["headers"] as? [String: String] ?? [:]
    body = dictionary["body"] as? String ?? ""
    connection = dictionary["connection"] as? Int ?? -1
  }
}
