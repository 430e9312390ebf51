import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

@Suite("Vault auth, least privilege and server state against a real OpenBao")
struct VaultAccessTests {
  @Test("a token with only lockstep-walk walks and reads, and is refused on write")
  func walkPolicy() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount()
    let root = vt.client()
    try await root.write("\(mount)/a/b", secretMap(["K": "v"]))
    let token = try vt.token(
      policy: VaultTesting.uniqueName("walk"), rules: try vt.policy("lockstep-walk", mount: mount))
    let walker = vt.client(token: token)
    #expect(try await walker.readAll(under: mount).map(\.path) == ["\(mount)/a/b"])
    let error = await #expect(throws: VaultError.self) {
      try await walker.write("\(mount)/a/b", secretMap(["K": "evil"]))
    }
    #expect(
      error?.description
        == "Permission denied: the token may not update \(mount)/data/a/b (Vault: permission denied)."
    )
    #expect(error?.exitStatus == .noPermission)
    await #expect(throws: VaultError.self) { try await walker.delete("\(mount)/a/b") }
    #expect(try await root.read("\(mount)/a/b").data.text("K") == "v")
  }

  @Test("a token with only lockstep-env reads the rendered path and nothing else")
  func envPolicy() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount()
    let root = vt.client()
    try await root.write("\(mount)/aura/production", secretMap(["SESSION_SECRET": "s"]))
    try await root.write("\(mount)/aura/staging", secretMap(["SESSION_SECRET": "t"]))
    let token = try vt.token(
      policy: VaultTesting.uniqueName("env"), rules: try vt.policy("lockstep-env", mount: mount))
    let reader = vt.client(token: token)
    #expect(try await reader.read("\(mount)/aura/production").data.text("SESSION_SECRET") == "s")
    await #expect(
      throws: VaultError.permissionDenied(
        path: "\(mount)/data/aura/staging", capability: "read", errors: ["permission denied"])
    ) { try await reader.read("\(mount)/aura/staging") }
    await #expect(throws: VaultError.self) {
      try await reader.write("\(mount)/aura/production", secretMap(["SESSION_SECRET": "x"]))
    }
  }

  @Test("a bad token is told apart from a missing permission")
  func badToken() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount()
    try await vt.client().write("\(mount)/x", secretMap(["K": "v"]))
    let vault = vt.client(token: SecretBytes(utf8: "s.not-a-real-token"))
    let error = await #expect(throws: VaultError.self) { try await vault.read("\(mount)/x") }
    #expect(error == .badToken(errors: ["permission denied"]))
    #expect(error?.description.contains("not-a-real") == false)
  }

  @Test("AppRole login with ids read from files gives a token with the role's policy")
  func appRole() async throws {
    let vt = try await VaultTesting.shared()
    let mount = try vt.freshMount()
    let policy = VaultTesting.uniqueName("walk")
    try vt.writePolicy(policy, rules: try vt.policy("lockstep-walk", mount: mount))
    let role = try vt.appRole(policies: [policy])
    let directory = try TemporaryDirectory.make(prefix: "approle")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try (role.roleID + "\n").write(
      toFile: directory + "/role-id", atomically: false, encoding: .utf8)
    let secretFile = directory + "/secret-id"
    _ = FileManager.default.createFile(
      atPath: secretFile, contents: Data(role.secretID.unsafeArray() + [0x0A]),
      attributes: [.posixPermissions: 0o600])
    let anonymous = VaultClient(configuration: VaultConfiguration(address: vt.address))
    let vault = try await anonymous.loginAppRole(
      roleIDFile: directory + "/role-id", secretIDFile: secretFile, mount: role.mount)
    let info = try await vault.lookupSelf()
    #expect(info.policies.contains(policy))
    #expect(try await vault.walk(mount).isEmpty)

    _ = FileManager.default.createFile(atPath: secretFile, contents: Data("wrong\n".utf8))
    let error = await #expect(throws: VaultError.self) {
      try await anonymous.loginAppRole(
        roleIDFile: directory + "/role-id", secretIDFile: secretFile, mount: role.mount)
    }
    guard case .loginFailed = error else {
      Issue.record("expected loginFailed, got \(String(describing: error))")
      return
    }
    #expect(error?.description.contains("wrong") == false)
  }

  @Test("health and lookup-self report state and policies")
  func healthAndLookup() async throws {
    let vt = try await VaultTesting.shared()
    let vault = vt.client()
    let health = try await vault.health()
    #expect(health.initialized && !health.sealed && !health.version.isEmpty)
    #expect(try await vault.lookupSelf().policies == ["root"])
  }

  @Test("a sealed server gives the sealed sentence, and health says sealed")
  func sealed() async throws {
    try await withLocalService(.vault) { service in
      let vt = VaultTesting(service)
      let mount = try vt.freshMount()
      // Long retry settings: if a sealed answer were retried, the call would last the whole
      // 5-minute deadline, far longer than any server delay (a sealing OpenBao was seen to
      // hold a request for 10 s on a loaded machine, and the call to take 33 s beside a
      // CPU hog).
      let vault = VaultClient(
        configuration: VaultConfiguration(
          address: vt.address, token: SecretBytes(utf8: VaultTesting.rootToken),
          retryDeadline: .seconds(300), maxRetries: 1000))
      try await vault.write("\(mount)/x", secretMap(["K": "v"]))
      try vt.seal()
      let start = ContinuousClock.now
      let error = await #expect(throws: VaultError.self) { try await vault.read("\(mount)/x") }
      #expect(error == .sealed(address: vt.address))
      #expect(error?.description == "Vault at \(vt.address) is sealed: unseal it, then retry.")
      #expect(error?.exitStatus == .unavailable)
      #expect(ContinuousClock.now - start < .seconds(120), "a sealed server is not retried")
      #expect(try await vault.health().sealed)
    }
  }

  @Test("a stopped server is unreachable with one sentence naming it")
  func unreachable() async throws {
    let port = FreePort.next()
    let vault = VaultClient(
      configuration: VaultConfiguration(
        address: "http://127.0.0.1:\(port)", token: SecretBytes(utf8: "t"),
        retryDeadline: .seconds(1)))
    let error = await #expect(throws: VaultError.self) { try await vault.read("secret/x") }
    #expect(
      error?.description
        == "Cannot reach Vault at http://127.0.0.1:\(port): Connection refused by 127.0.0.1:\(port): is the server running?"
    )
  }
}
