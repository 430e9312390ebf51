import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

@testable import Backup
@testable import ObjectStore

/// Backups in Google Cloud Storage (fake-gcs-server, the emulator Google's client libraries
/// are tested with): the workflow through the library as for S3, and the commands end to
/// end through the built binary with `--to gs://bucket/prefix/`.
@Suite("Backups in GCS (fake-gcs-server)", .enabled(if: GCSEmulator.suitesRun))
struct BackupGCSTests {
  let emulator: GCSEmulator
  let bucket: String
  let environment: [String: String]

  init() throws {
    emulator = try GCSEmulator()
    bucket = "bk-" + UUID().uuidString.prefix(8).lowercased()
    try emulator.createBucket(bucket)
    environment = ["STORAGE_EMULATOR_HOST": "127.0.0.1:\(emulator.port)"]
  }

  func store() throws -> any ObjectStore {
    try ObjectStores.client(
      for: try ObjectLocation(parsing: "gs://\(bucket)/"), environment: environment)
  }

  @Test func createListVerifyRestorePrune() async throws {
    try await expectBucketWorkflow(
      url: "gs://\(bucket)/vault/", store: try store(), environment: environment)
  }

  @Test func missingObjectAndBucket() async throws {
    try await expectMissingObjectAndBucket(
      scheme: "gs", bucket: bucket, environment: environment)
  }

  /// create → list → verify → rewrap → restore → prune, each as `lockstep …` against
  /// gs:// URLs.
  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
  func commandsEndToEnd() async throws {
    let fixture = try await BackupFixture.make()
    try fixture.put("svc/db", #"{"PASSWORD":"p1"}"#)
    try fixture.put("svc/web", #"{"SESSION_SECRET":"s1"}"#)
    let directory = try TemporaryDirectory.make(prefix: "lockstep-backup-gcs")
    let identity = try fixture.identityFile(in: directory)
    let other = try X25519KeyPair.generate()
    let otherFile = directory + "/other.txt"
    _ = FileManager.default.createFile(
      atPath: otherFile, contents: Data(KeyFile.identityText(other).utf8),
      attributes: [.posixPermissions: 0o600])
    var env = ProcessInfo.processInfo.environment
    env["VAULT_ADDR"] = fixture.vaultTesting.address
    env["VAULT_TOKEN"] = VaultTesting.rootToken
    env["STORAGE_EMULATOR_HOST"] = environment["STORAGE_EMULATOR_HOST"]
    // Signed through the variables the shipped templates set; trusted through the variable.
    let signingKeyFile = try TemporaryDirectory.make(prefix: "gcs-sign") + "/signing.key"
    _ = FileManager.default.createFile(
      atPath: signingKeyFile, contents: Data(KeyFile.signingKeyText(fixture.signer).utf8),
      attributes: [.posixPermissions: 0o600])
    env["LOCKSTEP_SIGNING_KEY"] = signingKeyFile
    env["LOCKSTEP_TRUSTED_SIGNERS"] = KeyFile.encodeSigningPublicKey(fixture.signer.publicKey)
    func lockstep(_ arguments: [String]) throws -> ChildProcess.Result {
      try ChildProcess.run(
        Repository.lockstepBinary, arguments, environment: env, timeout: .seconds(60))
    }
    let prefix = "gs://\(bucket)/aura/"

    var created: [String] = []
    for _ in 0..<2 {
      let result = try lockstep([
        "backup", "create", "--mount", fixture.mount, "--to", prefix, "--recipient",
        fixture.recipientText,
      ])
      #expect(result.status == 0, "\(result.stderrText)")
      created.append(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    #expect(created.allSatisfy { $0.hasPrefix(prefix + "lockstep-backup-") })
    #expect(Set(created).count == 2)

    let list = try lockstep(["backup", "list", prefix, "--json"])
    #expect(list.status == 0, "\(list.stderrText)")
    let listed = try JSONSerialization.jsonObject(with: Data(list.stdout)) as? [[String: Any]]
    #expect(listed?.compactMap { $0["location"] as? String } == created.reversed())

    let newest = created[1]
    let verify = try lockstep(["backup", "verify", newest, "--identity", identity])
    #expect(verify.status == 0, "\(verify.stderrText)")
    let wrongKey = try lockstep(["backup", "verify", newest, "--identity", otherFile])
    #expect(wrongKey.status == ExitStatus.noPermission.rawValue)

    // Rewrap through the temporary-object-then-copy path: the payload is untouched.
    let before = try await BackupDestination.read(newest, environment: environment)
    let added = try lockstep([
      "backup", "rewrap", "--yes", newest, "--identity", identity, "--add-recipient",
      Recipient.encode(x25519PublicKey: other.publicKey),
    ])
    #expect(added.status == 0, "\(added.stderrText)")
    let removed = try lockstep([
      "backup", "rewrap", "--yes", newest, "--identity", otherFile, "--remove-recipient",
      fixture.recipientText,
    ])
    #expect(removed.status == 0, "\(removed.stderrText)")
    let after = try await BackupDestination.read(newest, environment: environment)
    func payload(_ bytes: [UInt8]) throws -> [UInt8] {
      Array(bytes.dropFirst(try EnvelopeHeader.read(from: MemoryStream(bytes)).encoded.count))
    }
    #expect(try payload(after) == payload(before))
    #expect(try await store().list(prefix: "aura/").allSatisfy { !$0.key.contains(".tmp") })
    #expect(
      try lockstep(["backup", "verify", newest, "--identity", identity]).status
        == ExitStatus.noPermission.rawValue)

    let target = try fixture.vaultTesting.freshMount()
    let restore = try lockstep([
      "restore", newest, "--identity", otherFile, "--to-mount", target, "--yes",
    ])
    #expect(restore.status == 0, "\(restore.stderrText)")
    #expect(try fixture.rawData("svc/db", mount: target) == #"{"PASSWORD":"p1"}"#)
    #expect(try fixture.rawData("svc/web", mount: target) == #"{"SESSION_SECRET":"s1"}"#)

    let prune = try lockstep(["backup", "prune", prefix, "--keep-last", "1", "--yes"])
    #expect(prune.status == 0, "\(prune.stderrText)")
    #expect(try await store().list(prefix: "aura/").map { "gs://\(bucket)/" + $0.key } == [newest])
  }
}
