import Foundation
import LockstepCore
import TestSupport
import Testing

/// `backup create` and `backup snapshot` take their signing key by one rule (review D2): a
/// snapshot made by a template that sets only LOCKSTEP_SIGNING_KEY must be signed too.
@Suite("backup create and backup snapshot choose their signing key alike")
struct BackupSigningCLITests {
  static let commands: [[String]] = [
    ["backup", "create", "--mount", "secret"], ["backup", "snapshot"],
  ]

  @Test("without --sign-key or LOCKSTEP_SIGNING_KEY both warn that the backup is unsigned")
  func unsignedIsAnnounced() throws {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-signing")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let passphrase = directory + "/passphrase"
    #expect(
      FileManager.default.createFile(
        atPath: passphrase, contents: Data("correct horse battery\n".utf8),
        attributes: [.posixPermissions: 0o600]))
    // No Vault token anywhere: each command stops at Vault, after choosing its key.
    let environment = ["HOME": directory, "VAULT_ADDR": "http://127.0.0.1:9"]
    for command in Self.commands {
      let arguments = command + ["--to", directory, "--passphrase-file", passphrase]
      let unsigned = try CLI.run(arguments, environment: environment)
      #expect(unsigned.status != 0, "\(command)")
      #expect(unsigned.stderrText.contains("this backup is unsigned"), "\(command)")

      // LOCKSTEP_SIGNING_KEY is read (here: a file that holds no key) and nothing warns.
      let keyFile = directory + "/not-a-signing.key"
      #expect(
        FileManager.default.createFile(
          atPath: keyFile, contents: Data("not a key\n".utf8),
          attributes: [.posixPermissions: 0o600]))
      var withKey = environment
      withKey["LOCKSTEP_SIGNING_KEY"] = keyFile
      let fromEnvironment = try CLI.run(arguments, environment: withKey)
      #expect(fromEnvironment.status != 0, "\(command)")
      #expect(fromEnvironment.stderrText.contains("not-a-signing.key"), "\(command)")
      #expect(!fromEnvironment.stderrText.contains("unsigned"), "\(command)")
    }
  }
}
