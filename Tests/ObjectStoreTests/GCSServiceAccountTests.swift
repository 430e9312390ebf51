import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import ObjectStore

#if canImport(Glibc)
  import Glibc
#endif

/// A token endpoint of the tests' own: it verifies the JWT's RS256 signature with the
/// public half of the key the test generated, checks the claims, and hands out bearer
/// tokens; its `/storage/v1/b/NAME` answers 200 only to a token it issued, so a passing
/// `check()` proves the whole key file → JWT → token → request path.
private let tokenServerScript = #"""
  import base64, json, sys, time, threading
  from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
  from urllib.parse import parse_qs
  from cryptography.hazmat.primitives import hashes, serialization
  from cryptography.hazmat.primitives.asymmetric import padding

  port, public_pem, email, lifetime, parent = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
  public = serialization.load_pem_public_key(open(public_pem, "rb").read())
  issued, lock = [], threading.Lock()

  def unb64(text):
      return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

  class Handler(BaseHTTPRequestHandler):
      protocol_version = "HTTP/1.1"
      def log_message(self, *args): pass
      def reply(self, status, body):
          data = json.dumps(body).encode()
          self.send_response(status)
          self.send_header("Content-Type", "application/json")
          self.send_header("Content-Length", str(len(data)))
          self.end_headers()
          self.wfile.write(data)
      def do_POST(self):
          form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
          if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
              return self.reply(400, {"error": "unsupported_grant_type"})
          try:
              head, claims, signature = form["assertion"][0].split(".")
              public.verify(unb64(signature), (head + "." + claims).encode(),
                            padding.PKCS1v15(), hashes.SHA256())
          except Exception:
              return self.reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
          header, body = json.loads(unb64(head)), json.loads(unb64(claims))
          now = time.time()
          if (header.get("alg") != "RS256" or body.get("iss") != email
                  or body.get("aud") != "http://127.0.0.1:%s/token" % port
                  or "devstorage" not in body.get("scope", "")
                  or not body["iat"] - 60 <= now <= body["exp"]):
              return self.reply(400, {"error": "invalid_grant", "error_description": "Bad claims."})
          with lock:
              token = "ya29.test-%d" % (len(issued) + 1)
              issued.append(token)
          self.reply(200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"})
      def do_GET(self):
          token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
          with lock:
              known = token in issued
          if not known:
              return self.reply(401, {"error": {"code": 401, "message": "Invalid Credentials"}})
          self.reply(200, {"name": self.path.rsplit("/", 1)[-1]})

  def watch():
      import os
      while True:
          try: os.kill(parent, 0)
          except OSError: os._exit(0)
          time.sleep(1)
  threading.Thread(target=watch, daemon=True).start()
  ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
  """#

@Suite("GCS service-account keys against a verifying token endpoint")
struct GCSServiceAccountTests {
  final class TokenServer: Sendable {
    let port: Int
    let pid: Int32
    let directory: String
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// A fresh RSA key (its public half given to the server), a key file naming it, and the
    /// server. `lifetime` is the `expires_in` of the tokens it issues.
    init(lifetime: Int) throws {
      directory = try TemporaryDirectory.make(prefix: "lockstep-gcs-token")
      for arguments in [
        ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "key.pem"],
        ["pkey", "-in", "key.pem", "-pubout", "-out", "public.pem"],
        ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "other.pem"],
      ] {
        let result = try ChildProcess.run(
          "openssl", arguments, timeout: .seconds(60), directory: directory)
        guard result.succeeded else { throw UserError("openssl: \(result.stderrText)") }
      }
      try tokenServerScript.write(
        toFile: directory + "/server.py", atomically: true, encoding: .utf8)
      let port = FreePort.next()
      let result = try ChildProcess.run(
        "bash",
        [
          "-c",
          "python3 -B server.py \(port) public.pem backup@project.iam.gserviceaccount.com \(lifetime) \(getpid()) >server.log 2>&1 & echo $!",
        ], timeout: .seconds(10), directory: directory)
      guard let pid = Int32(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))
      else { throw UserError("could not start the token server") }
      self.port = port
      self.pid = pid
      for _ in 0..<100 {
        if (try? ChildProcess.run(
          "curl", ["-fsS", "-o", "/dev/null", "-X", "POST", "-d", "x=1", endpoint + "/token"],
          timeout: .seconds(5)))?.status == 22
        {
          return
        }
        usleep(100_000)
      }
      throw UserError("the token server did not start: \(directory)/server.log")
    }

    deinit { kill(pid, SIGKILL) }

    /// A key file as the Cloud console writes it, holding `keyFile`'s private key.
    func keyFile(_ keyFile: String = "key.pem") throws -> String {
      let pem = try String(contentsOfFile: directory + "/" + keyFile, encoding: .utf8)
      let object: [String: String] = [
        "type": "service_account", "project_id": "project", "private_key_id": "k1",
        "private_key": pem, "client_email": "backup@project.iam.gserviceaccount.com",
        "token_uri": endpoint + "/token",
      ]
      let path = directory + "/sa-\(keyFile).json"
      try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
      chmod(path, 0o600)
      return path
    }
  }

  static func client(_ server: TokenServer, keyFile: String) throws -> GCSClient {
    let configuration = try GCSConfiguration.fromEnvironment([
      "GOOGLE_APPLICATION_CREDENTIALS": keyFile, "STORAGE_EMULATOR_HOST": server.endpoint,
    ])
    return GCSClient(bucket: "lockstep-gcs", configuration: configuration, connections: 1)
  }

  @Test func aServiceAccountKeyGetsATokenThatIsCached() async throws {
    let server = try TokenServer(lifetime: 3600)
    let gcs = try Self.client(server, keyFile: try server.keyFile())
    #expect(gcs.configuration.credentialOrigin.hasPrefix("the service-account key "))
    #expect(try await gcs.check().contains("credentials accepted"))
    #expect(try await gcs.check().contains("credentials accepted"))
    #expect(gcs.configuration.token.exchangeCount == 1)
  }

  @Test func aTokenAboutToExpireIsReplaced() async throws {
    // 60 s tokens, replaced when less than 300 s are left: every request exchanges anew.
    let server = try TokenServer(lifetime: 60)
    let gcs = try Self.client(server, keyFile: try server.keyFile())
    for _ in 0..<3 { _ = try await gcs.check() }
    #expect(gcs.configuration.token.exchangeCount == 3)
  }

  @Test func aKeyTheEndpointDoesNotKnowIsOneSentence() async throws {
    let server = try TokenServer(lifetime: 3600)
    let keyFile = try server.keyFile("other.pem")
    let gcs = try Self.client(server, keyFile: keyFile)
    let error = await #expect(throws: ObjectStoreError.self) { try await gcs.check() }
    #expect(
      error?.description
        == "The token endpoint \(server.endpoint)/token refused the service-account key \(keyFile) (invalid_grant: Invalid JWT Signature)."
    )
    #expect(error?.exitStatus == .noPermission)
    #expect(error?.description.contains("PRIVATE KEY") == false)
  }

  @Test func aFileThatIsNotAKeyIsOneSentence() throws {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-gcs-bad")
    try #"{"type":"authorized_user"}"#.write(
      toFile: directory + "/k.json", atomically: true, encoding: .utf8)
    let error = #expect(throws: ObjectStoreError.self) {
      try GCSConfiguration.fromEnvironment(["GOOGLE_APPLICATION_CREDENTIALS": directory + "/k.json"]
      )
    }
    #expect(error?.exitStatus == .usage)
    #expect(error?.description.contains("is not a service-account key file") == true)
  }
}
