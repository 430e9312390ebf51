import ArgumentParser
import Crypto
import Envelope
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

extension Lockstep {
  /// Makes the keys backups are encrypted to and signed with.
  struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Create an X25519 identity (or, with --signing, an Ed25519 signing key).",
      discussion: """
        Writes the secret key to --out (mode 0600, never overwriting unless --force) and \
        prints the public recipient (lockstep1…) on stdout. With --signing, the public key \
        (lockstepsig1…) is also written to <out>.pub.
        """)

    @Option(help: "The file to write the secret key to.")
    var out: String

    @Flag(help: "Create an Ed25519 signing key pair instead of an X25519 identity.")
    var signing = false

    @Flag(help: "Replace an existing file.")
    var force = false

    func run() throws {
      // Every file this run would write, checked before any is written.
      for path in signing ? [out, out + ".pub"] : [out] where !force && access(path, F_OK) == 0 {
        throw UserError("\(path) already exists; pass --force to replace it", exit: .usage)
      }
      if signing {
        let pair = try Ed25519KeyPair.generate()
        let publicKey = KeyFile.encodeSigningPublicKey(pair.publicKey)
        try write(KeyFile.signingKeyText(pair), to: out, mode: 0o600)
        try write(publicKey + "\n", to: out + ".pub", mode: 0o644)
        Terminal.out(publicKey)
      } else {
        let pair = try X25519KeyPair.generate()
        try write(KeyFile.identityText(pair), to: out, mode: 0o600)
        Terminal.out(Recipient.encode(x25519PublicKey: pair.publicKey))
      }
    }

    private func write(_ text: String, to path: String, mode: mode_t) throws {
      let file = try AtomicFile(path: path, mode: mode)
      var bytes = Array(text.utf8)
      defer { SecretBytes.wipe(&bytes) }
      try bytes.withUnsafeBytes { try file.write($0) }
      try file.commit()
    }
  }
}
