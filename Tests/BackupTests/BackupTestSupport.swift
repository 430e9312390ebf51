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

  var recipient: Recipient { .x25519(publicKey: identity.publicKey) }
  var recipientText: String { Recipient.encode(x25519PublicKey: identity.publicKey) }

  static func make(version: Int = 2) async throws -> BackupFixture {
    let testing = try await VaultTesting.shared()
    let mount = try testing.freshMount(version: version)
    let root = VaultClient(
      configuration: VaultConfiguration(
        address: testing.address, token: SecretBytes(utf8: VaultTesting.rootToken)))
    return BackupFixture(
      vaultTesting: testing, mount: mount, root: root, identity: try X25519KeyPair.generate())
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
