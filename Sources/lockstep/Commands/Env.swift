import ArgumentParser
import Drift
import EnvFiles
import Foundation
import LockstepCore
import Vault

extension Lockstep {
  /// `.env` files: regenerate one from Vault, or list the keys of a source.
  struct Env: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Render .env files from Vault and list key inventories.",
      subcommands: [Render.self, Keys.self])
  }
}

extension Lockstep.Env {
  struct Render: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Write a .env file from a Vault secret, quoted so its parser reads it back exactly.",
      discussion: "Quoting rules per dialect and template syntax: docs/env.md.")

    @Option(help: "The secret to render, MOUNT/PATH (e.g. secret/aura/production).")
    var vault: String?

    @Option(help: "A .env template with {{ KEY }} or {{ MOUNT/PATH:KEY }} placeholders.")
    var template: String?

    @Option(help: "The file to write (mode 0600, atomically).")
    var out: String?

    @Flag(help: "Write to stdout instead of a file.")
    var stdout = false

    @Flag(help: "Replace an existing file.")
    var force = false

    @Option(
      help:
        "Who reads the file: portable (python-dotenv and sh), sh, compose, python-dotenv, node, kubectl (--from-env-file)."
    )
    var dialect: String = DotenvDialect.portable.rawValue

    @OptionGroup var vaultLogin: VaultLoginOptions

    func validate() throws {
      guard stdout != (out != nil) else {
        throw ValidationError("give exactly one of --out PATH or --stdout")
      }
      guard DotenvDialect(rawValue: dialect) != nil else {
        throw ValidationError(
          "--dialect must be one of \(DotenvDialect.allCases.map(\.rawValue).joined(separator: ", "))"
        )
      }
      guard vault != nil || template != nil else {
        throw ValidationError("give --vault, --template or both")
      }
    }

    func run() async throws {
      let parsedTemplate = try template.map { path throws -> EnvTemplate in
        guard let data = FileManager.default.contents(atPath: path) else {
          throw UserError("cannot read the template \(path)", exit: .failure)
        }
        return try EnvTemplate(parsing: String(decoding: data, as: UTF8.self))
      }
      let source = VaultSecretSource(client: try vaultLogin.client())
      let output = try await EnvRender.render(
        path: vault, template: parsedTemplate, dialect: DotenvDialect(rawValue: dialect)!,
        source: source)
      if stdout {
        output.content.withUnsafeBytes { FileHandle.standardOutput.write(Data($0)) }
        return
      }
      let changes = try EnvFileWriter.write(output.content, to: out!, force: force)
      Terminal.out("wrote \(out!) (\(output.names.count) keys, mode 0600)")
      for name in changes.added { Terminal.out("  added    \(name)") }
      for name in changes.removed { Terminal.out("  removed  \(name)") }
      for name in changes.changed { Terminal.out("  changed  \(name)") }
    }
  }

  struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the sorted key names of a source (an env_keys.txt inventory).",
      discussion:
        "SOURCE: dotenv:PATH, keys:PATH, vault:MOUNT/PATH, k8s:NS/DEPLOYMENT[/CONTAINER], env:REGEX, code:GLOB."
    )

    @Argument(help: "The source to list.")
    var source: String

    func run() async throws {
      let spec = try SourceSpec(parsing: source)
      let inventory = try await SourceLoader(connections: DriftConnections.live(for: [spec])).load(
        spec)
      for note in inventory.notes { Terminal.warn("\(inventory.source): \(note.message)") }
      Terminal.out(inventory.sortedNames.joined(separator: "\n"))
    }
  }
}
