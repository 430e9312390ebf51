import ArgumentParser
import Crypto
import Envelope
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

extension Lockstep {
  /// Encrypts any file or stream into a lockstep envelope (docs/format.md).
  struct Encrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Encrypt a file or stdin to recipients and/or a passphrase.",
      discussion: """
        Any one recipient or the passphrase opens the result. Reads --in (default stdin) and \
        writes --out (default stdout); a file given with --out appears only when complete.
        """)

    @Option(name: .customLong("recipient"), help: "An X25519 recipient (lockstep1…); repeatable.")
    var recipients: [String] = []

    @Option(help: "A file whose first line is the passphrase.")
    var passphraseFile: String?

    @Option(help: "An Ed25519 signing key file (from `keygen --signing`) to sign the output with.")
    var signKey: String?

    @Option(help: "The input file (default: stdin).")
    var `in`: String?

    @Option(help: "The output file (default: stdout).")
    var out: String?

    func validate() throws {
      if recipients.isEmpty && passphraseFile == nil {
        throw ValidationError("give at least one --recipient or a --passphrase-file")
      }
    }

    func run() throws {
      var list = try recipients.map { try Recipient(parsing: $0) }
      if let passphraseFile {
        list.append(.passphrase(try KeyFile.readPassphrase(path: passphraseFile)))
      }
      let signingKey = try signKey.map { try KeyFile.readSigningKey(path: $0) }
      try StreamFiles.run(input: self.in, output: out) { source, sink in
        try EnvelopeFormat.encrypt(from: source, to: sink, recipients: list, signingKey: signingKey)
      }
    }
  }
}

/// Opens --in/--out (or stdin/stdout) and makes sure an output file is only renamed into
/// place after `body` succeeded.
enum StreamFiles {
  static func run(
    input: String?, output: String?, binaryOutput: Bool = true,
    _ body: (any ByteSource, any ByteSink) throws -> Void
  ) throws {
    var inputDescriptor = STDIN_FILENO
    if let input, input != "-" {
      inputDescriptor = open(input, O_RDONLY | O_CLOEXEC)
      guard inputDescriptor >= 0 else {
        throw UserError("could not open \(input): \(String(cString: strerror(errno)))")
      }
    }
    defer { if inputDescriptor != STDIN_FILENO { close(inputDescriptor) } }
    let source = FileDescriptorStream(descriptor: inputDescriptor, name: input ?? "stdin")
    if let output, output != "-" {
      let file = try AtomicFile(path: output)
      try body(source, file)
      try file.commit()
    } else {
      if binaryOutput && isatty(STDOUT_FILENO) == 1 {
        throw UserError(
          "refusing to write binary output to a terminal; use --out FILE or redirect stdout",
          exit: .usage)
      }
      try body(source, FileDescriptorStream(descriptor: STDOUT_FILENO, name: "stdout"))
    }
  }
}
