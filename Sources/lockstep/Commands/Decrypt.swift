import ArgumentParser
import Crypto
import Envelope
import LockstepCore

extension Lockstep {
  /// Decrypts lockstep envelopes and the runbook's legacy `openssl enc` files.
  struct Decrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Decrypt an envelope, or a legacy `openssl enc -aes-256-cbc` file.",
      discussion: """
        Exit codes: 77 when no identity or passphrase opens the file; 2 when the file is \
        altered, truncated or wrongly signed; 65 when it is not an envelope this version \
        reads. With --out, the output file appears only after the whole input checked out. \
        Legacy `Salted__` files are detected automatically; the key derivation (pbkdf2, \
        sha256, md5) is guessed unless --legacy-kdf names it.
        """)

    @Argument(help: "The file to decrypt (default: --in or stdin).")
    var file: String?

    @Option(
      name: .customLong("identity"), help: "An identity file from `lockstep keygen`; repeatable.")
    var identities: [String] = []

    @Option(help: "A file whose first line is the passphrase.")
    var passphraseFile: String?

    @Option(help: "For legacy openssl files: the key derivation used (pbkdf2, sha256, md5).")
    var legacyKdf: LegacyOpenSSLFile.KeyDerivation?

    @Option(help: "Require a signature by this key (a lockstepsig1… string or a .pub/key file).")
    var verifyKey: String?

    @Option(help: "The input file (default: stdin).")
    var `in`: String?

    @Option(help: "The output file (default: stdout).")
    var out: String?

    func validate() throws {
      if identities.isEmpty && passphraseFile == nil {
        throw ValidationError("give an --identity file or a --passphrase-file")
      }
      if file != nil && self.in != nil {
        throw ValidationError("give the input either as an argument or with --in, not both")
      }
    }

    func run() throws {
      let keys = try identities.flatMap { try KeyFile.readIdentities(path: $0) }
      let passphrase = try passphraseFile.map { try KeyFile.readPassphrase(path: $0) }
      let signer = try verifyKey.map { try KeyFile.readSigningPublicKey($0) }
      var outcome: Decryption.Outcome?
      try StreamFiles.run(input: file ?? self.in, output: out, binaryOutput: false) {
        source, sink in
        outcome = try Decryption.decrypt(
          from: source, to: sink, identities: keys.map { .x25519($0) }, passphrase: passphrase,
          legacyKDF: legacyKdf, expectedSigner: signer)
      }
      switch outcome {
      case .legacy(let kdf, binary: false):
        Terminal.warn(
          "decrypted a legacy openssl file (key derivation: \(kdf.rawValue)); re-encrypt it with `lockstep encrypt`"
        )
      case .legacy(let kdf, binary: true):
        Terminal.warn(
          "legacy openssl file opened with \(kdf.rawValue); content is binary (if it should be text, the passphrase is wrong: openssl enc has no integrity check); re-encrypt it with `lockstep encrypt`"
        )
      case .envelope(let summary):
        if let signer = summary.verifiedSigner, verifyKey == nil {
          Terminal.warn(
            "signed by \(KeyFile.encodeSigningPublicKey(signer)) (not checked against an expected key)"
          )
        }
      case nil: break
      }
    }
  }
}

extension LegacyOpenSSLFile.KeyDerivation: ExpressibleByArgument {}
