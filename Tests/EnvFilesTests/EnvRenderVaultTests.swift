import EnvFiles
import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

/// `env render` against a real OpenBao: the in-process source and the CLI end to end.
@Suite struct EnvRenderVaultTests {
  @Test func rendersAVaultSecretThatPythonAndShReadBack() async throws {
    let vault = try await VaultTesting.shared()
    let mount = try vault.freshMount()
    let client = VaultClient(
      configuration: VaultConfiguration(
        address: vault.address, token: SecretBytes(utf8: VaultTesting.rootToken),
        retryDeadline: .seconds(3), parallelism: 2))
    let pairs = Nasty.portable
    try await client.write(
      "\(mount)/aura/production",
      SecretMap(pairs.map { (key: $0.0, value: SecretBytes(utf8: $0.1)) }))

    let output = try await EnvRender.render(
      path: "\(mount)/aura/production", template: nil, dialect: .portable,
      source: VaultSecretSource(client: client))
    #expect(output.names == pairs.map(\.0).sorted())

    // The CLI, with the token in ~/.vault-token (never argv or environment).
    let home = try TemporaryDirectory.make(prefix: "env-home")
    _ = FileManager.default.createFile(
      atPath: home + "/.vault-token", contents: Data(VaultTesting.rootToken.utf8),
      attributes: [.posixPermissions: 0o600])
    let directory = try TemporaryDirectory.make(prefix: "env-render")
    let target = directory + "/.env"
    let environment = ["PATH": "/usr/bin:/bin", "VAULT_ADDR": vault.address, "HOME": home]
    let result = try ChildProcess.run(
      Repository.lockstepBinary,
      ["env", "render", "--vault", "\(mount)/aura/production", "--out", target],
      environment: environment, timeout: .seconds(60))
    #expect(result.status == 0, "\(result.stderrText)")
    #expect(result.stdoutText.contains("added    PEM"))
    for (_, value) in pairs where value.count > 3 {
      #expect(!result.stdoutText.contains(value))
    }
    let attributes = try FileManager.default.attributesOfItem(atPath: target)
    #expect((attributes[.posixPermissions] as? Int) == 0o600)
    let python = try ReadBack.python(target)
    let sh = try ReadBack.sh(target, names: pairs.map(\.0))
    for (name, value) in pairs {
      #expect(python[name] == Array(value.utf8), "python-dotenv: \(name)")
      #expect(sh[name] == Array(value.utf8), "sh: \(name)")
    }

    let again = try ChildProcess.run(
      Repository.lockstepBinary,
      ["env", "render", "--vault", "\(mount)/aura/production", "--out", target],
      environment: environment, timeout: .seconds(60))
    #expect(again.status == 1)
    #expect(again.stderrText.contains("pass --force"))

    // A value python-dotenv would expand is refused by name, and nothing is written.
    try await client.patch(
      "\(mount)/aura/production",
      SecretMap([(key: "TEMPLATED", value: SecretBytes(utf8: "uniq-${HOME}-4242"))]))
    let refused = try ChildProcess.run(
      Repository.lockstepBinary,
      ["env", "render", "--vault", "\(mount)/aura/production", "--out", directory + "/.env.new"],
      environment: environment, timeout: .seconds(60))
    #expect(refused.status == 65)
    #expect(refused.stderrText.contains("TEMPLATED"))
    #expect(!refused.stderrText.contains("uniq-"))
    #expect(!FileManager.default.fileExists(atPath: directory + "/.env.new"))
    let sh2 = try ChildProcess.run(
      Repository.lockstepBinary,
      ["env", "render", "--vault", "\(mount)/aura/production", "--stdout", "--dialect", "sh"],
      environment: environment, timeout: .seconds(60))
    #expect(sh2.status == 0)
    #expect(sh2.stdoutText.contains("TEMPLATED='uniq-${HOME}-4242'"))
  }
}
