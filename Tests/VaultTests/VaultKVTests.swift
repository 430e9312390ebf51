import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

@Suite("Vault KV against a real OpenBao")
struct VaultKVTests {
  static let nasty = secretMap([
    "QUOTES": "a\"b'c", "BACKSLASH": "C:\\path\\", "UNICODE": "välue ✓ 🔑",
    "NEWLINES": "-----BEGIN KEY-----\nAAA\n-----END KEY-----\n", "EMPTY": "",
    "CONTROL": "tab\there\u{01}", "DOLLAR": "$HOME `x` #y",
  ])

  @Test("KV v2: write, read back byte for byte, versions, read an older version")
  func kv2RoundTrip() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount(version: 2)
    let vault = vt.client()
    #expect(try await vault.mount(for: "\(mount)/app").kvVersion == 2)
    let first = try await vault.write("\(mount)/app/config", Self.nasty)
    #expect(first == 1)
    let secret = try await vault.read("\(mount)/app/config")
    #expect(secret.data == Self.nasty)
    #expect(secret.data.keys == Self.nasty.keys.sorted(), "Vault returns keys sorted")
    #expect(secret.version == 1)
    #expect(secret.path == "\(mount)/app/config")
    #expect(try await vault.write("\(mount)/app/config", secretMap(["ONLY": "two"])) == 2)
    #expect(try await vault.read("\(mount)/app/config").data.keys == ["ONLY"])
    #expect(try await vault.read("\(mount)/app/config", version: 1).data == Self.nasty)
  }

  /// A rotation rewrites the whole secret to change a few keys: numbers, booleans and
  /// objects it keeps must come back as the same JSON values, not as strings.
  @Test("non-string values keep their JSON type through read and write")
  func jsonValuesKeepTheirType() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount(version: 2)
    _ = try vt.call(
      "POST", "\(mount)/data/typed",
      body: #"{"data":{"PORT":5432,"ON":true,"FLAGS":{"beta":[1,"x"]},"NAME":"aura"}}"#)
    let vault = vt.client()
    var secret = try await vault.read("\(mount)/typed").data
    #expect(secret.jsonKeys == ["PORT", "ON", "FLAGS"])
    #expect(secret["PORT"]?.unsafeUTF8String() == "5432")
    secret["NAME"] = SecretBytes(utf8: "renamed")
    try await vault.write("\(mount)/typed", secret, cas: 1)
    let raw = try vt.call("GET", "\(mount)/data/typed")
    let data = try #require((raw["data"] as? [String: Any])?["data"] as? [String: Any])
    #expect(data["PORT"] as? Int == 5432)
    #expect(data["ON"] as? Bool == true)
    #expect(((data["FLAGS"] as? [String: Any])?["beta"] as? [Any])?.count == 2)
    #expect(data["NAME"] as? String == "renamed")
    secret["PORT"] = SecretBytes(utf8: "6543")
    #expect(!secret.isJSON("PORT"), "assigning a value makes it a string")
  }

  @Test("KV v1: write, read, list; CAS is refused with a sentence")
  func kv1() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount(version: 1)
    let vault = vt.client()
    #expect(try await vault.mount(for: mount).kvVersion == 1)
    #expect(try await vault.write("\(mount)/app/one", Self.nasty) == nil)
    let secret = try await vault.read("\(mount)/app/one")
    #expect(secret.data == Self.nasty)
    #expect(secret.version == nil)
    #expect(try await vault.list("\(mount)/app") == ["one"])
    #expect(try await vault.walk(mount) == ["\(mount)/app/one"])
    await #expect(throws: VaultError.casUnsupported(path: "\(mount)/app/one")) {
      try await vault.write("\(mount)/app/one", Self.nasty, cas: 1)
    }
    _ = try await vault.patch("\(mount)/app/one", secretMap(["NEW": "x"]))
    let patched = try await vault.read("\(mount)/app/one").data
    #expect(patched.text("NEW") == "x" && patched.text("QUOTES") == "a\"b'c")
  }

  @Test("check-and-set: cas=0 creates once, a stale version is refused and nothing written")
  func checkAndSet() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount()
    let vault = vt.client()
    let path = "\(mount)/lock"
    #expect(try await vault.write(path, secretMap(["owner": "a"]), cas: 0) == 1)
    let error = await #expect(throws: VaultError.self) {
      try await vault.write(path, secretMap(["owner": "b"]), cas: 0)
    }
    #expect(
      error?.description
        == "Check-and-set failed for \(mount)/lock: it is no longer at version 0 (someone else wrote it); nothing was written."
    )
    #expect(error?.exitStatus == .temporaryFailure)
    #expect(try await vault.read(path).data.text("owner") == "a")
    #expect(try await vault.write(path, secretMap(["owner": "c"]), cas: 1) == 2)
    let stale = await #expect(throws: VaultError.self) {
      try await vault.patch(path, secretMap(["owner": "d"]), cas: 1)
    }
    guard case .casMismatch(path, 1, _) = stale else {
      Issue.record("expected a CAS mismatch, got \(String(describing: stale))")
      return
    }
    #expect(try await vault.read(path).data.text("owner") == "c")
  }

  @Test("patch changes the given keys and keeps every other key")
  func patchKeepsOtherKeys() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount()
    let vault = vt.client()
    let path = "\(mount)/aura/production"
    try await vault.write(
      path, secretMap(["DATABASE_URL": "postgres://x", "SESSION_SECRET": "old", "GONE": "1"]))
    let version = try await vault.patch(
      path, secretMap(["SESSION_SECRET": "new \"quoted\"", "ADDED": "✓"]), removing: ["GONE"],
      cas: 1)
    #expect(version == 2)
    let data = try await vault.read(path).data
    #expect(data.text("DATABASE_URL") == "postgres://x")
    #expect(data.text("SESSION_SECRET") == "new \"quoted\"")
    #expect(data.text("ADDED") == "✓")
    #expect(data["GONE"] == nil)

    // A token with update but no patch capability gets the read-modify-write fallback.
    let token = try vt.token(
      policy: VaultTesting.uniqueName("rw"),
      rules: """
        path "\(mount)/data/*" { capabilities = ["create", "read", "update"] }
        path "sys/internal/ui/mounts/*" { capabilities = ["read"] }
        """)
    let limited = vt.client(token: token)
    #expect(try await limited.patch(path, secretMap(["SESSION_SECRET": "third"])) == 3)
    let after = try await vault.read(path).data
    #expect(after.text("SESSION_SECRET") == "third" && after.text("DATABASE_URL") == "postgres://x")
  }

  @Test("walk and readAll cover a nested tree; a missing folder lists empty")
  func walkNestedTree() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount()
    let vault = vt.client()
    var expected: [String] = []
    for path in ["a", "b/c", "b/d/e", "b/d/f", "g/h/i/j", "g/k"] {
      try await vault.write("\(mount)/\(path)", secretMap(["PATH": path]))
      expected.append("\(mount)/\(path)")
    }
    #expect(try await vault.walk(mount) == expected.sorted())
    #expect(
      try await vault.walk("\(mount)/b") == ["\(mount)/b/c", "\(mount)/b/d/e", "\(mount)/b/d/f"])
    let secrets = try await vault.readAll(under: "\(mount)/")
    #expect(secrets.map(\.path) == expected.sorted())
    for secret in secrets {
      #expect("\(mount)/" + (secret.data.text("PATH") ?? "") == secret.path)
    }
    #expect(try await vault.list("\(mount)/nothing/here").isEmpty)
    #expect(
      try await vault.read(paths: ["\(mount)/g/k", "\(mount)/a"]).map(\.path) == [
        "\(mount)/g/k", "\(mount)/a",
      ])
  }

  @Test("metadata, delete, undelete, destroy; deleted versions give their own sentence")
  func metadataLifecycle() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount()
    let vault = vt.client()
    let path = "\(mount)/svc"
    try await vault.write(path, secretMap(["v": "1"]))
    try await vault.write(path, secretMap(["v": "2"]))
    try await vault.writeMetadata(path, maxVersions: 5, customMetadata: ["owner": "ops"])
    try await vault.delete(path)
    await #expect(throws: VaultError.versionDeleted(path: path, version: 2)) {
      try await vault.read(path)
    }
    #expect(try await vault.read(path, version: 1).data.text("v") == "1")
    try await vault.undelete(path, versions: [2])
    #expect(try await vault.read(path).data.text("v") == "2")
    try await vault.destroy(path, versions: [1])
    await #expect(throws: VaultError.versionDestroyed(path: path, version: 1)) {
      try await vault.read(path, version: 1)
    }
    let metadata = try await vault.metadata(path)
    #expect(metadata.currentVersion == 2 && metadata.maxVersions == 5)
    #expect(metadata.customMetadata == ["owner": "ops"])
    #expect(metadata.versions.map(\.version) == [1, 2])
    #expect(metadata.versions[0].destroyed && !metadata.versions[1].isDeleted)
    try await vault.deleteAllVersions(path)
    await #expect(throws: VaultError.notFound(path: path)) { try await vault.read(path) }
    #expect(VaultError.notFound(path: path).description == "No secret at \(path).")
  }

  @Test("a path on no mount, and a path with nothing in it, give one sentence each")
  func missing() async throws {
    let vt = try await VaultTesting.shared()
    let vault = vt.client()
    let error = await #expect(throws: VaultError.self) { try await vault.read("no-such-mount/x") }
    #expect(error == .noMount(path: "no-such-mount/x"))
    let mount = try vt.freshMount()
    await #expect(throws: VaultError.notFound(path: "\(mount)/absent")) {
      try await vault.read("\(mount)/absent")
    }
  }
}
