import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Backup
@testable import ObjectStore

/// Retention that junk cannot steer (issue 10 §5): 36 objects named
/// `lockstep-backup-2099…Z.lsb` beside 6 real backups, with the shipped templates' policy;
/// then junk dated in the past, which `--verify-headers` sets aside. On the directory
/// backend and on S3 (moto), through the built binary.
@Suite(
  "prune ignores junk (binary)",
  .enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
struct BackupPruneJunkTests {
  static let policy = [
    "--keep-hourly", "24", "--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "12",
  ]

  static func expectJunkIgnored(
    url: String, environment: [String: String], put: (String, [UInt8]) async throws -> Void,
    names: () async throws -> [String]
  ) async throws {
    let identity = try X25519KeyPair.generate()
    let real = try EnvelopeFormat.encrypt(
      Array("payload".utf8), to: [.x25519(publicKey: identity.publicKey)])
    let now = Date()
    let realNames = (1...6).map { BackupName.make(now.addingTimeInterval(Double(-$0) * 3600)) }
    for name in realNames { try await put(name, real) }
    let future = Date(timeIntervalSince1970: 4_070_908_800)  // 2099-01-01
    for index in 0..<36 {
      try await put(BackupName.make(future.addingTimeInterval(Double(index) * 86_400)), [0x6A])
    }
    try await put("lockstep-backup-20261301T000000Z.lsb", [0x6A])  // month 13: unparseable

    func lockstep(_ arguments: [String]) throws -> ChildProcess.Result {
      try ChildProcess.run(
        Repository.lockstepBinary, arguments, environment: environment, timeout: .seconds(60))
    }
    let pruned = try lockstep(["backup", "prune", url, "--yes", "--json"] + policy)
    #expect(pruned.status == 0, "\(pruned.stderrText)")
    #expect(pruned.stderrText.contains("ignoring 36 backup name(s) dated"))
    #expect(pruned.stderrText.contains("ignoring 1 name(s) that look like backups"))
    let left = try await names()
    #expect(realNames.allSatisfy(left.contains), "a real backup was removed")
    #expect(left.count == 6 + 36 + 1)

    // Junk dated in the past counts as backups by name alone; with --verify-headers it is
    // neither counted nor removed, and the newest real backups stay.
    let junkNames = (1...10).map { BackupName.make(now.addingTimeInterval(Double(-$0) * 60)) }
    for name in junkNames { try await put(name, Array("junk".utf8)) }
    let checked = try lockstep([
      "backup", "prune", url, "--yes", "--keep-last", "6", "--verify-headers",
    ])
    #expect(checked.status == 0, "\(checked.stderrText)")
    // The 10 junk files and the 36 future-dated ones.
    #expect(checked.stderrText.contains("ignoring 46 file(s) without a valid envelope header"))
    let after = try await names()
    #expect(realNames.allSatisfy(after.contains))
    #expect(junkNames.allSatisfy(after.contains))
  }

  @Test func onADirectory() async throws {
    let directory = try TemporaryDirectory.make(prefix: "prune-junk")
    try await Self.expectJunkIgnored(
      url: directory, environment: ProcessInfo.processInfo.environment,
      put: { name, bytes in
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
      },
      names: { try FileManager.default.contentsOfDirectory(atPath: directory) })
  }

  @Test func onS3() async throws {
    let environment = try await BackupObjectStoreTests.environment()
    let store = try await BackupObjectStoreTests.bucket(environment)
    try await Self.expectJunkIgnored(
      url: "s3://\(store.bucket)/vault/",
      environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
      put: { name, bytes in try await store.put("vault/" + name, bytes) },
      names: { try await store.list(prefix: "vault/").map { String($0.key.dropFirst(6)) } })
  }
}
