import Crypto
import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Backup
@testable import ObjectStore

/// Whole-cluster backups on real one-node Raft OpenBaos: back up with only the snapshot
/// policy, wipe (a new data directory and a new `operator init`), restore with only the
/// restore policy, and find KV and Transit as they were.
@Suite(
  "Raft snapshot backups (binary)",
  .enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
struct SnapshotBackupTests {
  @Test func snapshotRoundTripIntoANewCluster() async throws {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-snapshot")
    let s3 = try await BackupObjectStoreTests.environment()
    let bucket = try await BackupObjectStoreTests.bucket(s3).bucket
    func run(_ arguments: [String], token: SecretBytes, address: String) throws
      -> ChildProcess.Result
    {
      var environment = ProcessInfo.processInfo.environment.merging(s3) { $1 }
      // The smallest cap on a Vault answer; the snapshot below is larger, so it must be
      // streamed, not held as one response.
      environment["LOCKSTEP_MAX_RESPONSE_MIB"] = "1"
      environment["VAULT_ADDR"] = address
      environment["VAULT_TOKEN"] = token.unsafeUTF8String()
      return try ChildProcess.run(
        Repository.lockstepBinary, arguments, environment: environment, timeout: .seconds(60))
    }
    let root = SecretBytes(utf8: VaultTesting.rootToken)
    let keygen = try run(["keygen", "--out", directory + "/id.txt"], token: root, address: "")
    #expect(keygen.status == 0)
    #expect(
      try run(["keygen", "--signing", "--out", directory + "/sign.key"], token: root, address: "")
        .status == 0)
    let recipient = keygen.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)

    // The source cluster: KV with two versions, a Transit key and a ciphertext under it.
    let (file, ciphertext, unsealKey, blobDigest) = try await withLocalService(.vaultRaft) {
      service in
      let vault = VaultTesting(service)
      try vault.call(
        "POST", "secret/data/aura/production", body: #"{"data":{"SESSION_SECRET":"old"}}"#)
      try vault.call(
        "POST", "secret/data/aura/production",
        body: #"{"data":{"SESSION_SECRET":"s3cr3t","DATABASE_URL":"postgres://a:b@db/aura"}}"#)
      // Three secrets of 700 KB of random base64 (about 1.6 MB once the snapshot is
      // gzip'd): more than the 1 MiB response cap set above. (Raft takes at most 1 MiB per
      // entry, so one secret cannot hold it all.)
      var blobs: [String] = []
      for index in 0..<3 {
        let blob = Data((0..<524_288).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        blobs.append(blob)
        // Too large for curl's argv: curl reads the body from a file (`@FILE`).
        try "{\"data\":{\"BLOB\":\"\(blob)\"}}".write(
          toFile: directory + "/blob.json", atomically: true, encoding: .utf8)
        try vault.call(
          "POST", "secret/data/aura/blob\(index)", body: "@" + directory + "/blob.json")
      }
      try vault.call("POST", "transit/keys/backup")
      let encrypted = try vault.call(
        "POST", "transit/encrypt/backup", body: #"{"plaintext":"aGVsbG8gd29ybGQ="}"#)
      let ciphertext = try #require((encrypted["data"] as? [String: Any])?["ciphertext"] as? String)
      let token = try vault.token(
        policy: "lockstep-snapshot",
        rules: String(
          contentsOfFile: Repository.root + "/policies/vault/lockstep-snapshot.hcl", encoding: .utf8
        ))
      let created = try run(
        [
          "backup", "snapshot", "--to", directory + "/out", "--recipient", recipient,
          "--sign-key", directory + "/sign.key", "--to", "s3://\(bucket)/snap/",
        ], token: token, address: vault.address)
      #expect(created.status == 0, "\(created.stderrText)")
      #expect(!created.stderrText.contains("larger than"), "the snapshot was not capped")
      let locations = created.stdoutText.split(separator: "\n").map(String.init)
      #expect(locations.count == 2)
      #expect(locations.allSatisfy { $0.hasSuffix(".snapshot.lsb") })
      let file = try #require(locations.first)
      let remote = try #require(locations.last)
      #expect(remote.hasPrefix("s3://\(bucket)/snap/lockstep-backup-"))
      let remoteVerified = try run(
        [
          "backup", "verify", remote, "--identity", directory + "/id.txt", "--verify-key",
          directory + "/sign.key.pub",
        ], token: token, address: vault.address)
      #expect(remoteVerified.status == 0, "\(remoteVerified.stderrText)")
      let initJSON =
        try JSONSerialization.jsonObject(
          with: Data(contentsOf: URL(fileURLWithPath: service.raftInitFile))) as? [String: Any]
      let key = try #require((initJSON?["unseal_keys_b64"] as? [String])?.first)
      return (file, ciphertext, key, Self.sha256Hex(blobs.joined()))
    }

    let verified = try run(
      [
        "backup", "verify", file, "--identity", directory + "/id.txt", "--verify-key",
        directory + "/sign.key.pub",
      ], token: root, address: "")
    #expect(verified.status == 0, "\(verified.stderrText)")
    #expect(verified.stdoutText.contains("Raft snapshot"))
    let listed = try run(
      ["backup", "list", directory + "/out", "--json"], token: root, address: "")
    #expect(listed.stdoutText.contains("\"kind\" : \"raft-snapshot\""))
    // A KV restore refuses the snapshot with one sentence.
    let asKV = try run(
      [
        "restore", file, "--identity", directory + "/id.txt", "--verify-key",
        directory + "/sign.key.pub", "--dry-run",
      ], token: root, address: "http://127.0.0.1:1")
    #expect(asKV.status == ExitStatus.dataError.rawValue)
    #expect(asKV.stderrText.contains("Raft snapshot"))

    // A new cluster: new data directory, new init, none of the old data.
    try await withLocalService(.vaultRaft) { service in
      let vault = VaultTesting(service)
      #expect(throws: (any Error).self) { try vault.call("GET", "secret/data/aura/production") }
      let token = try vault.token(
        policy: "lockstep-snapshot-restore",
        rules: String(
          contentsOfFile: Repository.root + "/policies/vault/lockstep-snapshot-restore.hcl",
          encoding: .utf8))
      let restoreArguments = [
        "restore", "--snapshot", file, "--identity", directory + "/id.txt", "--verify-key",
        directory + "/sign.key.pub",
      ]
      // --dry-run shows the snapshot and the target, and changes nothing.
      let dryRun = try run(restoreArguments + ["--dry-run"], token: token, address: vault.address)
      #expect(dryRun.status == 0, "\(dryRun.stderrText)")
      #expect(dryRun.stdoutText.contains("would replace"))
      #expect(dryRun.stderrText.contains("signed by  lockstepsig1"))
      // No terminal and no --yes: refused, nothing changed.
      let unconfirmed = try run(restoreArguments, token: token, address: vault.address)
      #expect(unconfirmed.status == ExitStatus.usage.rawValue)
      #expect(unconfirmed.stderrText.contains("created"))
      #expect(unconfirmed.stderrText.contains("--yes"))
      // Other unseal keys: the checked endpoint refuses, the sentence says --force.
      let checked = try run(restoreArguments + ["--yes"], token: token, address: vault.address)
      #expect(checked.status == ExitStatus.usage.rawValue, "\(checked.stderrText)")
      #expect(checked.stderrText.contains("--force"))

      let restored = try run(
        restoreArguments + ["--yes", "--force"], token: token, address: vault.address)
      #expect(restored.status == 0, "\(restored.stderrText)")
      #expect(restored.stderrText.contains("unseal it with the unseal keys"))
      // The restored cluster opens with the old cluster's unseal key.
      try unseal(address: vault.address, key: unsealKey)

      let secret = try vault.call("GET", "secret/data/aura/production")
      let data = (secret["data"] as? [String: Any])?["data"] as? [String: String]
      #expect(data == ["SESSION_SECRET": "s3cr3t", "DATABASE_URL": "postgres://a:b@db/aura"])
      var restoredBlobs = ""
      for index in 0..<3 {
        let blob = try vault.call("GET", "secret/data/aura/blob\(index)")
        restoredBlobs +=
          ((blob["data"] as? [String: Any])?["data"] as? [String: String])?["BLOB"] ?? ""
      }
      #expect(Self.sha256Hex(restoredBlobs) == blobDigest, "the large secrets came back whole")
      let first = try vault.call("GET", "secret/data/aura/production?version=1")
      #expect(
        ((first["data"] as? [String: Any])?["data"] as? [String: String]) == [
          "SESSION_SECRET": "old"
        ])
      let decrypted = try vault.call(
        "POST", "transit/decrypt/backup", body: "{\"ciphertext\":\"\(ciphertext)\"}")
      #expect((decrypted["data"] as? [String: Any])?["plaintext"] as? String == "aGVsbG8gd29ybGQ=")
    }
  }

  static func sha256Hex(_ text: String) -> String {
    Hex.encode(SHA256.hash(Array(text.utf8)))
  }

  /// `sys/unseal` with the key on curl's stdin, then waits until the node is active.
  private func unseal(address: String, key: String) throws {
    let result = try ChildProcess.run(
      "curl", ["-fsS", "-X", "PUT", "--data-binary", "@-", address + "/v1/sys/unseal"],
      stdin: SecretBytes(utf8: "{\"key\":\"\(key)\"}"), timeout: .seconds(30))
    #expect(result.succeeded, "\(result.stderrText)")
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
      let health = try ChildProcess.run(
        "curl", ["-fsS", address + "/v1/sys/health"], timeout: .seconds(10))
      if health.succeeded { return }
      Thread.sleep(forTimeInterval: 0.1)
    }
    Issue.record("the restored cluster did not become active")
  }

  /// A destination holding both kinds keeps each kind's retention: a day's newest KV backup
  /// does not stand in for that day's snapshot.
  @Test func pruneKeepsEachKindSeparately() throws {
    let day = Date(timeIntervalSince1970: 1_796_256_000)
    func entry(_ name: String) -> BackupDestination.Entry {
      BackupDestination.Entry(
        name: name, location: "/b/" + name, date: BackupName.date(of: name) ?? day, size: 1)
    }
    let names = [
      BackupName.make(day), BackupName.make(day.addingTimeInterval(3600)),
      BackupName.makeSnapshot(day), BackupName.makeSnapshot(day.addingTimeInterval(60)),
      BackupName.makeSnapshot(day.addingTimeInterval(60), sequence: 2),
    ]
    #expect(BackupName.sequence(of: names[4]) == 2)
    #expect(BackupName.kind(of: names[4]) == "raft-snapshot")
    let (keep, remove) = try RetentionPolicy(last: 0, hourly: 0, daily: 1, weekly: 0, monthly: 0)
      .applyPerKind(names.map(entry))
    #expect(Set(keep.map(\.name)) == [names[1], names[4]])
    #expect(remove.count == 3)
  }
}
