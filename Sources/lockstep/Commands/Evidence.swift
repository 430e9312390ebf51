import ArgumentParser
import Crypto
import Envelope
import Evidence
import Foundation
import LockstepCore

extension Lockstep {
  struct EvidenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "evidence", abstract: "Verify signed evidence and render notices from it.",
      subcommands: [Verify.self, Report.self])

    struct Verify: ParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Check an evidence log's hash chain and signature (exit 2 when it fails).")

      @Argument(help: "An evidence file (.jsonl), or a directory of them.")
      var path: String

      @Option(help: "The public key that must have sealed it: lockstepsig1…, a .pub file, or hex.")
      var key: String?

      func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
          throw UserError("\(path) does not exist", exit: .usage)
        }
        let files =
          isDirectory.boolValue
          ? try FileManager.default.contentsOfDirectory(atPath: path).filter {
            $0.hasSuffix(".jsonl")
          }
          .sorted().map { "\(path)/\($0)" }
          : [path]
        guard !files.isEmpty else {
          throw UserError("\(path) holds no evidence files", exit: .usage)
        }
        // Every file is reported, good or not; the exit status says whether all verified.
        let expected = try expectedKeyHex(key)
        var failed = 0
        for file in files {
          do {
            let report = try EvidenceVerifier.verify(
              path: file, expectedKey: expected, allowUnsealed: true)
            guard report.sealed else {
              guard isDirectory.boolValue else {
                throw EvidenceVerifier.Failure(
                  description:
                    "\(file) is not sealed (the rotation did not finish, or its last records were removed)"
                )
              }
              failed += 1
              Terminal.out(
                "\(file): \(report.records) records, chain intact, NOT SEALED (a rotation in progress or interrupted: `lockstep rotate status`)"
              )
              continue
            }
            let signer =
              Hex.decode(report.publicKey).map(KeyFile.encodeSigningPublicKey) ?? report.publicKey
            Terminal.out(
              "\(file): \(report.records) records, chain intact, sealed by \(signer)"
                + (report.sealFormat < 2
                  ? " (format 1 seal: its own time and actor are not signed)" : "")
                + (key == nil ? " (pass --key to require this key)" : ""))
          } catch let error as EvidenceVerifier.Failure {
            // One file: its failure is the one sentence on stderr.
            guard isDirectory.boolValue else { throw error }
            failed += 1
            Terminal.out("\(file): FAILED: \(error.description)")
          }
        }
        if failed > 0 {
          throw UserError(
            "\(failed) of \(files.count) evidence file(s) did not verify as sealed", exit: .mismatch
          )
        }
      }
    }

    struct Report: ParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Render a notice (templates/notices/*.md) from a verified evidence log.")

      @Argument(help: "The evidence file (.jsonl).")
      var path: String

      @Option(help: "The notice template, e.g. templates/notices/resolved.md.")
      var template: String

      @Option(help: "The public key that must have sealed it: lockstepsig1…, a .pub file, or hex.")
      var key: String?

      @Flag(
        help:
          "Render from an unsealed log (a rotation in progress): its chain is checked and the notice says \"in progress\"."
      )
      var inProgress = false

      func run() throws {
        guard let text = try? String(contentsOfFile: template, encoding: .utf8) else {
          throw UserError("cannot read the template \(template)", exit: .usage)
        }
        Terminal.out(
          try EvidenceReport.render(
            template: text, evidencePath: path, expectedKey: try expectedKeyHex(key),
            allowInProgress: inProgress,
            formatKey: { Hex.decode($0).map(KeyFile.encodeSigningPublicKey) ?? $0 }))
      }
    }
  }
}

/// The hex form the evidence seal records, from whatever form the user gave.
func expectedKeyHex(_ key: String?) throws -> String? {
  guard let key else { return nil }
  if key.count == 64, Hex.decode(key) != nil { return key.lowercased() }
  return Hex.encode(try KeyFile.readSigningPublicKey(key))
}
