import Crypto
import Envelope
import Foundation
import LockstepCore
import ObjectStore
import TestSupport
import Testing
import Vault

@testable import Backup

/// Shared setup for the backup tests: a fresh mount on the shared OpenBao, tokens from the
/// repository's own policies (with `secret` replaced by the test's mount), a key pair.
struct BackupFixture {
  let vaultTesting: VaultTesting
  let mount: String
  let root: VaultClient
  let identity: X25519KeyPair
  /// The backup job's signing key, and the trust that names it.
  let signer: Ed25519KeyPair
  var trust: SignerTrust { SignerTrust(trusted: [signer.publicKey]) }

  var recipient: Recipient { .x25519(publicKey: identity.publicKey) }
  var recipientText: String { Recipient.encode(x25519PublicKey: identity.publicKey) }

  static func make(version: Int = 2) async throws -> BackupFixture {
    let testing = try await VaultTesting.shared()
    let mount = try testing.freshMount(version: version)
    let root = VaultClient(
      configuration: VaultConfiguration(
        address: testing.address, token: SecretBytes(utf8: VaultTesting.rootToken)))
    return BackupFixture(
      vaultTesting: testing, mount: mount, root: root, identity: try X25519KeyPair.generate(),
      signer: try Ed25519KeyPair.generate())
  }

  /// A client whose token holds only `policies/vault/<name>.hcl` for `mounts`.
  func client(policy name: String, mounts: [String]? = nil) throws -> VaultClient {
    let text = try String(
      contentsOfFile: Repository.root + "/policies/vault/\(name).hcl", encoding: .utf8)
    var rules = ""
    for target in mounts ?? [mount] {
      rules += text.replacingOccurrences(of: "\"secret/", with: "\"\(target)/") + "\n"
    }
    let token = try vaultTesting.token(
      policy: VaultTesting.uniqueName(name), rules: rules)
    return VaultClient(
      configuration: VaultConfiguration(address: vaultTesting.address, token: token))
  }

  /// Writes JSON `data` (raw, so nested values stay nested) as a new version.
  func put(_ path: String, _ json: String) throws {
    try vaultTesting.call("POST", "\(mount)/data/\(path)", body: "{\"data\":\(json)}")
  }

  func rawData(_ path: String, mount: String? = nil, version: Int? = nil) throws -> String {
    let answer = try vaultTesting.call(
      "GET", "\(mount ?? self.mount)/data/\(path)" + (version.map { "?version=\($0)" } ?? ""))
    let data = (answer["data"] as? [String: Any])?["data"] ?? NSNull()
    let bytes = try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys])
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The `data` object's text exactly as OpenBao sends it (no re-encoding, so numbers such
  /// as `1e400` or `1.0` and Go's escapes show as they are stored).
  func exactData(_ path: String, mount: String? = nil, version: Int? = nil) async throws
    -> String
  {
    let response = try await root.request(
      .get, "\(mount ?? self.mount)/data/\(path)", query: version.map { "version=\($0)" })
    let text = response.text
    guard let start = text.range(of: #""data":{"data":"#),
      let end = text.range(of: #","metadata":{"#, options: .backwards)
    else { return text }
    return String(text[start.upperBound..<end.lowerBound])
  }

  func identityFile(in directory: String) throws -> String {
    let path = directory + "/identity.txt"
    let text = KeyFile.identityText(identity)
    _ = FileManager.default.createFile(
      atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    return path
  }
}

extension BackupDestination.Entry {
  static func at(_ iso: String) -> BackupDestination.Entry {
    let formatter = ISO8601DateFormatter()
    let date = formatter.date(from: iso)!
    let name = BackupName.make(date)
    return .init(name: name, location: name, date: date, size: 1)
  }
}

/// For any bucket scheme (`s3`, `gs`): reading a missing object and creating a backup in a
/// missing bucket each end in their own error.
func expectMissingObjectAndBucket(
  scheme: String, bucket: String, environment: [String: String],
  sourceLocation: SourceLocation = #_sourceLocation
) async throws {
  let missingObject = "\(scheme)://\(bucket)/vault/lockstep-backup-20200101T000000Z.lsb"
  await #expect(throws: ObjectStoreError.noSuchKey(missingObject), sourceLocation: sourceLocation) {
    try await BackupDestination.read(missingObject, environment: environment)
  }
  let fixture = try await BackupFixture.make()
  try fixture.put("a", #"{"K":"1"}"#)
  let noBucket = BackupCreator(
    scope: .init(mounts: [fixture.mount]),
    recipients: BackupRecipients(recipients: [fixture.recipient]),
    destinations: [
      try BackupDestination.parse("\(scheme)://no-such-bucket-x/p/", environment: environment)
    ])
  await #expect(
    throws: ObjectStoreError.noSuchBucket("no-such-bucket-x"), sourceLocation: sourceLocation
  ) {
    try await noBucket.run(vault: fixture.root)
  }
}

/// create ×3 → only committed objects left → list newest first → verify → restore → prune,
/// for any bucket URL (`s3://bucket/vault/`, `gs://bucket/vault/`); `store` lists the bucket.
func expectBucketWorkflow(
  url: String, store: any ObjectStore, environment: [String: String]
) async throws {
  let fixture = try await BackupFixture.make()
  try fixture.put("app/a", #"{"K":"1","J":{"x":[1]}}"#)
  try fixture.put("app/b", #"{"L":"2"}"#)
  let destination = try BackupDestination.parse(url, environment: environment)
  let creator = BackupCreator(
    scope: .init(mounts: [fixture.mount]),
    recipients: BackupRecipients(recipients: [fixture.recipient]), signingKey: fixture.signer,
    destinations: [destination])
  let vault = try fixture.client(policy: "lockstep-backup")
  let first = try await creator.run(vault: vault, now: Date(timeIntervalSinceNow: -7200))
  let second = try await creator.run(vault: vault, now: Date(timeIntervalSinceNow: -3600))
  let third = try await creator.run(vault: vault)
  #expect(third.locations[0].hasPrefix(url + "lockstep-backup-"))
  // Only the committed objects remain: no temporary object left behind.
  let keys = try await store.list(prefix: "vault/").map(\.key)
  #expect(keys.count == 3 && keys.allSatisfy { !$0.contains(".tmp") })
  let listed = try await destination.list()
  #expect(listed.map(\.location) == [third, second, first].map { $0.locations[0] })

  let bytes = try await BackupDestination.read(third.locations[0], environment: environment)
  let opener = BackupOpener(identities: [.x25519(fixture.identity)], trust: fixture.trust)
  let (report, payload) = try await BackupVerifier(opener: opener).verify(bytes)
  #expect(report.paths == 2)
  let target = try fixture.vaultTesting.freshMount()
  let restored = try await VaultRestorer(vault: fixture.root, options: .init(toMount: target))
    .restore(payload)
  #expect(restored.added.sorted() == ["\(target)/app/a", "\(target)/app/b"])
  #expect(try fixture.rawData("app/a", mount: target) == fixture.rawData("app/a"))

  let (keep, remove) = try RetentionPolicy(last: 1).apply(try await destination.list())
  #expect(keep.map(\.location) == [third.locations[0]])
  for entry in remove { try await destination.delete(entry) }
  #expect(try await destination.list().map(\.location) == [third.locations[0]])
  #expect(try await store.list(prefix: "vault/").count == 1)
}
