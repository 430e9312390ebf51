import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 10 §7 as the built binary: keygen never overwrites a `.pub`, an empty passphrase
/// is refused, and a signal during `decrypt --out` leaves no temporary plaintext behind.
@Suite(
  "envelope hardening (binary)",
  .enabled(if: FileManager.default.isExecutableFile(atPath: Repository.lockstepBinary)))
struct EnvelopeHardeningCLITests {
  let directory: String

  init() throws { directory = try TemporaryDirectory.make(prefix: "envelope-hardening") }

  func lockstep(_ arguments: [String], stdin: [UInt8] = []) throws -> ChildProcess.Result {
    try ChildProcess.run(
      Repository.lockstepBinary, arguments, stdin: SecretBytes(copying: stdin),
      timeout: .seconds(60))
  }

  @Test func keygenNeverOverwritesThePublicKeyFile() throws {
    let pub = directory + "/k.pub"
    try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: pub))
    let refused = try lockstep(["keygen", "--signing", "--out", directory + "/k"])
    #expect(refused.status == 64)
    #expect(refused.stderrText.contains("k.pub already exists"))
    #expect(!FileManager.default.fileExists(atPath: directory + "/k"))
    #expect(try String(contentsOfFile: pub, encoding: .utf8) == "keep me\n")
    let forced = try lockstep(["keygen", "--signing", "--out", directory + "/k", "--force"])
    #expect(forced.status == 0)
  }

  @Test func emptyPassphrasesAreRefused() throws {
    for (name, content) in [("empty", ""), ("newline", "\n"), ("crlf", "\r\n")] {
      let file = directory + "/" + name
      try Data(content.utf8).write(to: URL(fileURLWithPath: file))
      let result = try lockstep(["encrypt", "--passphrase-file", file], stdin: Array("x".utf8))
      #expect(result.status == 64, "\(name): \(result.stderrText)")
      #expect(result.stderrText.contains("empty"), "\(name)")
      #expect(result.stdout.isEmpty)
    }
  }

  @Test(arguments: [SIGTERM, SIGINT, SIGHUP])
  func aSignalDuringDecryptLeavesNoTemporaryFile(signal: Int32) throws {
    let keygen = try lockstep(["keygen", "--out", directory + "/id-\(signal)"])
    let recipient = keygen.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    let plaintext = [UInt8](repeating: 0x41, count: 4 << 20)
    let encrypted = try lockstep(["encrypt", "--recipient", recipient], stdin: plaintext).stdout
    let outDirectory = directory + "/out-\(signal)"
    try FileManager.default.createDirectory(atPath: outDirectory, withIntermediateDirectories: true)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: Repository.lockstepBinary)
    process.arguments = [
      "decrypt", "--identity", directory + "/id-\(signal)", "--out", outDirectory + "/plain",
    ]
    let input = Pipe()
    process.standardInput = input
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    // Half the file: the decrypter has written plaintext to its temporary file and waits.
    input.fileHandleForWriting.write(Data(encrypted.prefix(encrypted.count / 2)))
    let deadline = Date().addingTimeInterval(30)
    func temporaries() -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: outDirectory)) ?? []).filter {
        $0.hasSuffix(".tmp")
      }
    }
    while temporaries().isEmpty && Date() < deadline { usleep(20_000) }
    #expect(!temporaries().isEmpty, "the decrypter never started its output")
    usleep(200_000)
    kill(process.processIdentifier, signal)
    process.waitUntilExit()
    try? input.fileHandleForWriting.close()
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(temporaries().isEmpty)
    #expect(!FileManager.default.fileExists(atPath: outDirectory + "/plain"))
  }
}
