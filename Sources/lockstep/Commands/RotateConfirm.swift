import ArgumentParser
import Envelope
import Foundation
import LockstepCore
import Rotation
import Vault

#if canImport(Glibc)
  import Glibc
#endif

extension Lockstep.Rotate {
  struct Confirm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Complete a manual follow-up: give the new value of a key a person rotated.",
      discussion:
        "The value is read from stdin (without echo on a terminal), never from the command line. It is written to the live secret with check-and-set, deployed to every Kubernetes target that receives the key, taken off the pending follow-ups (`rotate status`), and recorded in a sealed evidence log."
    )

    @OptionGroup var options: RotationOptions

    @Option(help: "The manual key whose new value is given (one of the policy's `manual:` keys).")
    var key: String

    @Option(help: "The Ed25519 signing key that seals the evidence (`lockstep keygen --signing`).")
    var signingKey: String

    @Option(help: "Where the evidence log is written.")
    var evidenceDir = "lockstep-evidence"

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func run() async throws {
      let (policy, digest) = try options.loadWithDigest()
      let key = self.key
      guard policy.manual.contains(where: { $0.key == key }) else {
        let known = policy.manual.map(\.key)
        throw UserError(
          "\(key) is not a manual follow-up of this policy (manual keys: \(known.isEmpty ? "none" : known.joined(separator: ", ")))",
          exit: .usage)
      }
      let signing = try KeyFile.readSigningKey(path: signingKey)
      let value = try SecretInput.read(prompt: "New value of \(key): ")
      let evidenceDir = self.evidenceDir
      let json = self.json
      let outcome = try await ManualConfirmation(
        policy: policy, store: VaultSecretStore(client: try VaultClient.fromEnvironment()),
        deployments: policy.kubernetes.contains { $0.keys.contains(key) }
          ? KubectlDeployments() : nil,
        signingKey: signing, evidenceDirectory: evidenceDir, policyDigest: digest,
        progress: { line in if !json { Terminal.out("  " + line) } }
      ).confirm(key: key, value: value)
      if json {
        var object: [String: Any] = [
          "key": outcome.key, "live_version": outcome.liveVersion, "deployed": outcome.deployed,
          "still_pending": outcome.stillPending, "evidence": outcome.evidencePath,
        ]
        if let id = outcome.rotationID { object["rotation_id"] = id }
        let data = try JSONSerialization.data(
          withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        Terminal.out(String(decoding: data, as: UTF8.self))
        return
      }
      Terminal.out(
        "\(Terminal.green("✔")) \(outcome.key) confirmed: live secret v\(outcome.liveVersion)\(outcome.deployed.isEmpty ? "" : ", deployed to \(outcome.deployed.joined(separator: ", "))")"
      )
      Terminal.out(
        outcome.stillPending.isEmpty
          ? "no manual follow-up is pending"
          : "still pending: \(outcome.stillPending.joined(separator: ", "))")
      Terminal.out("evidence: \(outcome.evidencePath)")
    }
  }
}

/// A secret typed by a person or piped in: stdin, without echo on a terminal; one trailing
/// newline (LF or CRLF) is dropped.
enum SecretInput {
  static func read(prompt: String) throws -> SecretBytes {
    let terminal = isatty(STDIN_FILENO) == 1
    var saved = termios()
    if terminal {
      FileHandle.standardError.write(Data(prompt.utf8))
      tcgetattr(STDIN_FILENO, &saved)
      var quiet = saved
      quiet.c_lflag &= ~tcflag_t(ECHO)
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
    }
    defer {
      if terminal {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
        FileHandle.standardError.write(Data("\n".utf8))
      }
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    defer { SecretBytes.wipe(&buffer) }
    while bytes.count <= 65536 {
      let count = buffer.withUnsafeMutableBytes {
        Glibc.read(STDIN_FILENO, $0.baseAddress, $0.count)
      }
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { break }
      bytes.append(contentsOf: buffer[0..<count])
      if terminal && bytes.contains(0x0A) { break }
    }
    if terminal, let newline = bytes.firstIndex(of: 0x0A) {
      for index in newline..<bytes.count { bytes[index] = 0 }
      bytes.removeSubrange(newline...)
    }
    if bytes.last == 0x0A { bytes.removeLast() }
    if bytes.last == 0x0D { bytes.removeLast() }
    guard !bytes.isEmpty, bytes.count <= 65536 else {
      SecretBytes.wipe(&bytes)
      throw UserError(
        "give the new value on stdin (1 to 65536 bytes), e.g. from a file: < new-value.txt",
        exit: .usage)
    }
    return SecretBytes(consuming: &bytes)
  }
}
