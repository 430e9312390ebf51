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
        for file in files {
          let report = try EvidenceVerifier.verify(path: file, expectedKey: try expectedKeyHex(key))
          let signer =
            Hex.decode(report.publicKey).map(KeyFile.encodeSigningPublicKey) ?? report.publicKey
          Terminal.out(
            "\(file): \(report.records) records, chain intact, sealed by \(signer)"
              + (key == nil ? " (pass --key to require this key)" : ""))
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

      func run() throws {
        guard let text = try? String(contentsOfFile: template, encoding: .utf8) else {
          throw UserError("cannot read the template \(template)", exit: .usage)
        }
        Terminal.out(
          try EvidenceReport.render(
            template: text, evidencePath: path, expectedKey: try expectedKeyHex(key)))
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
