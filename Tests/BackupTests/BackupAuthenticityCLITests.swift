import Crypto
import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import Backup

/// Authenticity by default, as the built binary against a real OpenBao: a backup forged with
/// nothing but the public recipient key is refused by `backup verify` and `restore` unless
/// a trusted signer made it or the operator says `--allow-unsigned` (loudly, recorded); a
/// signed backup round-trips create → verify → restore; destructive commands want `--yes`
/// off a terminal (issues 10 and 11).
@Suite(
  "backup authenticity (binary)",
  .enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
struct BackupAuthenticityCLITests {
  struct Setup {
    let fixture: BackupFixture
    let directory: String
    let identity: String
    let environment: [String: String]

    func lockstep(_ arguments: [String], extra: [String: String] = [:]) throws
      -> ChildProcess.Result
    {
      try ChildProcess.run(
        Repository.lockstepBinary, arguments,
        environment: environment.merging(extra) { $1 }, timeout: .seconds(60))
    }
  }

  static func setup() async throws -> Setup {
    let fixture = try await BackupFixture.make()
    let directory = try TemporaryDirectory.make(prefix: "lockstep-authenticity")
    var environment = ProcessInfo.processInfo.environment
    environment["VAULT_ADDR"] = fixture.vaultTesting.address
    environment["VAULT_TOKEN"] = VaultTesting.rootToken
    environment["LOCKSTEP_TRUSTED_SIGNERS"] = nil
    environment["LOCKSTEP_SIGNING_KEY"] = nil
    return Setup(
      fixture: fixture, directory: directory,
      identity: try fixture.identityFile(in: directory), environment: environment)
  }

  @Test func aForgedUnsignedBackupIsRefused() async throws {
    let setup = try await Self.setup()
    let fixture = setup.fixture
    try fixture.put("aura/production", #"{"K":"live"}"#)
    // The attacker knows only the public recipient key.
    let forged = try HostileBackupTests.forge(
      fixture, [(fixture.mount + "/", "aura/production", 2, #"{"K":"evil"}"#)])
    let envelope = try forged.encoded().withUnsafeBytes {
      try EnvelopeFormat.encrypt(Array($0), to: [fixture.recipient])
    }
    let file = setup.directory + "/forged.lsb"
    try Data(envelope).write(to: URL(fileURLWithPath: file))
    let pub = setup.directory + "/trusted.pub"
    try Data((KeyFile.encodeSigningPublicKey(fixture.signer.publicKey) + "\n").utf8).write(
      to: URL(fileURLWithPath: pub))

    // No trusted signer configured: a usage error that says what to give.
    let bare = try setup.lockstep(["backup", "verify", file, "--identity", setup.identity])
    #expect(bare.status == ExitStatus.usage.rawValue, "\(bare.stderrText)")
    #expect(bare.stderrText.contains("--verify-key"))
    #expect(bare.stdoutText.isEmpty)
    // With a trusted signer: an unsigned file fails verification (2), by flag, file or variable.
    for (arguments, extra) in [
      (["--verify-key", pub], [String: String]()), (["--trusted-signers", pub], [:]),
      ([], ["LOCKSTEP_TRUSTED_SIGNERS": pub]),
      ([], ["LOCKSTEP_TRUSTED_SIGNERS": KeyFile.encodeSigningPublicKey(fixture.signer.publicKey)]),
    ] {
      let refused = try setup.lockstep(
        ["backup", "verify", file, "--identity", setup.identity] + arguments, extra: extra)
      #expect(refused.status == ExitStatus.mismatch.rawValue, "\(arguments) \(extra)")
      #expect(refused.stderrText.contains("not signed"))
      let restore = try setup.lockstep(
        ["restore", file, "--identity", setup.identity, "--force", "--yes"] + arguments,
        extra: extra)
      #expect(restore.status == ExitStatus.mismatch.rawValue)
    }
    #expect(try fixture.rawData("aura/production") == #"{"K":"live"}"#)

    // Signed by someone else: refused and named.
    let stranger = try Ed25519KeyPair.generate()
    let strangers = try forged.encoded().withUnsafeBytes {
      try EnvelopeFormat.encrypt(Array($0), to: [fixture.recipient], signingKey: stranger)
    }
    try Data(strangers).write(to: URL(fileURLWithPath: setup.directory + "/stranger.lsb"))
    let unknown = try setup.lockstep([
      "backup", "verify", setup.directory + "/stranger.lsb", "--identity", setup.identity,
      "--verify-key", pub,
    ])
    #expect(unknown.status == ExitStatus.mismatch.rawValue)
    #expect(unknown.stderrText.contains(KeyFile.encodeSigningPublicKey(stranger.publicKey)))

    // --allow-unsigned: accepted, loudly, and recorded in the output.
    let allowed = try setup.lockstep([
      "backup", "verify", file, "--identity", setup.identity, "--allow-unsigned", "--json",
    ])
    #expect(allowed.status == 0, "\(allowed.stderrText)")
    #expect(allowed.stderrText.contains("NOT checked"))
    #expect(allowed.stdoutText.contains(#""authenticity" : "not-verified-allow-unsigned""#))
  }

  @Test func aSignedBackupRoundTripsAndRestoreWantsConfirmation() async throws {
    let setup = try await Self.setup()
    let fixture = setup.fixture
    try fixture.put("svc/s1", #"{"K":"1"}"#)
    try fixture.put("svc/s10", #"{"K":"10"}"#)
    let key = setup.directory + "/signing.key"
    #expect(try setup.lockstep(["keygen", "--signing", "--out", key]).status == 0)
    let created = try setup.lockstep([
      "backup", "create", "--mount", fixture.mount, "--to", setup.directory + "/out",
      "--recipient", fixture.recipientText, "--sign-key", key,
    ])
    #expect(created.status == 0, "\(created.stderrText)")
    let file = created.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    let trust = ["--verify-key", key + ".pub"]
    let verify = try setup.lockstep(
      ["backup", "verify", file, "--identity", setup.identity] + trust)
    #expect(verify.status == 0, "\(verify.stderrText)")

    let target = try fixture.vaultTesting.freshMount()
    // Off a terminal, restore needs --yes; nothing is written without it.
    let unconfirmed = try setup.lockstep(
      ["restore", file, "--identity", setup.identity, "--to-mount", target] + trust)
    #expect(unconfirmed.status == ExitStatus.usage.rawValue)
    #expect(unconfirmed.stderrText.contains("--yes"))
    let restored = try setup.lockstep(
      [
        "restore", file, "--identity", setup.identity, "--to-mount", target, "--prefix", "svc/s1",
        "--yes", "--json",
      ] + trust)
    #expect(restored.status == 0, "\(restored.stderrText)")
    #expect(restored.stdoutText.contains(#""authenticity" : "trusted-signer""#))
    #expect(try fixture.rawData("svc/s1", mount: target) == #"{"K":"1"}"#)
    #expect(throws: (any Error).self) { try fixture.rawData("svc/s10", mount: target) }

    // A --to-mount that does not exist is named as such (restore does not create mounts).
    let missing = try setup.lockstep(
      ["restore", file, "--identity", setup.identity, "--to-mount", "no-such-\(target)", "--yes"]
        + trust)
    #expect(missing.status == ExitStatus.usage.rawValue, "\(missing.stderrText)")
    #expect(missing.stderrText.contains("No secrets engine is mounted at no-such-\(target)/"))

    // A token without rights on the mount is told it is denied, not that nothing is there.
    let token = try fixture.vaultTesting.token(
      policy: VaultTesting.uniqueName("nothing"),
      rules: #"path "cubbyhole/*" { capabilities = ["read"] }"#)
    let denied = try setup.lockstep(
      ["restore", file, "--identity", setup.identity, "--to-mount", target, "--yes"] + trust,
      extra: ["VAULT_TOKEN": token.unsafeUTF8String()!])
    #expect(denied.status == ExitStatus.noPermission.rawValue, "\(denied.stderrText)")
    #expect(denied.stderrText.contains("Permission denied"))
    #expect(!denied.stderrText.contains("No secrets engine"))

    // Prune deletes only with --yes off a terminal.
    let prune = try setup.lockstep([
      "backup", "prune", setup.directory + "/out", "--keep-last", "1",
    ])
    #expect(prune.status == 0, "nothing to remove, nothing to confirm: \(prune.stderrText)")
  }
}
