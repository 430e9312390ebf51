import EnvFiles
import Foundation
import LockstepCore
import TestSupport
import Testing

@Suite struct TemplateAndWriterTests {
  let source = StaticSecretSource([
    "secret/aura/production": [
      (name: "DATABASE_URL", value: SecretBytes(utf8: "postgres://a:b@db/aura")),
      (name: "SESSION_SECRET", value: SecretBytes(utf8: "s3cr3t 'quoted' value")),
      (name: "DB_PASSWORD", value: SecretBytes(utf8: "p@ss#1")),
    ],
    "secret/aura/shared": [(name: "SENTRY_DSN", value: SecretBytes(utf8: "https://k@sentry/1"))],
  ])

  @Test func templateKeepsLiteralsAndFillsPlaceholders() async throws {
    let template = try EnvTemplate(
      parsing: """
        # Aura-Sign production
        NODE_ENV=production  # literal, kept

        DATABASE_URL={{ DATABASE_URL }}
        export SESSION_SECRET={{SESSION_SECRET}}
        PG_DSN=host=db password={{ DB_PASSWORD }}
        SENTRY_DSN={{ secret/aura/shared:SENTRY_DSN }}
        """)
    let output = try await EnvRender.render(
      path: "secret/aura/production", template: template, dialect: .portable, source: source)
    let text = output.content.unsafeUTF8String()!
    #expect(text.hasPrefix("# Aura-Sign production\nNODE_ENV=production  # literal, kept\n\n"))
    #expect(text.contains("export SESSION_SECRET="))
    let document = DotenvParser.parse(output.content)
    #expect(
      document.names == ["NODE_ENV", "DATABASE_URL", "SESSION_SECRET", "PG_DSN", "SENTRY_DSN"])
    #expect(document.entry(named: "PG_DSN")?.value == SecretBytes(utf8: "host=db password=p@ss#1"))
    #expect(document.entry(named: "SENTRY_DSN")?.value == SecretBytes(utf8: "https://k@sentry/1"))
  }

  @Test func unknownKeyIsAnErrorNamingIt() async throws {
    let template = try EnvTemplate(parsing: "A={{ DATABASE_URL }}\nB={{ NOPE }}\n")
    await #expect(
      throws: EnvFilesError.unknownKeys(keys: ["NOPE"], source: "vault:secret/aura/production")
    ) {
      try await EnvRender.render(
        path: "secret/aura/production", template: template, dialect: .portable, source: source)
    }
    #expect(throws: EnvFilesError.self) { try EnvTemplate(parsing: "A={{ open\n") }
  }

  @Test func writesMode0600AtomicallyAndReportsChanges() throws {
    let directory = try TemporaryDirectory.make(prefix: "envwriter")
    let path = directory + "/.env"
    let first = try EnvFileWriter.write(
      SecretBytes(utf8: "A=1\nB=2\n"), to: path, force: false)
    #expect(first == EnvChanges(added: ["A", "B"]))
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    #expect((attributes[.posixPermissions] as? Int) == 0o600)

    #expect(throws: EnvFilesError.targetExists(path)) {
      try EnvFileWriter.write(SecretBytes(utf8: "A=1\n"), to: path, force: false)
    }
    let second = try EnvFileWriter.write(
      SecretBytes(utf8: "A=1\nB=3\nC=4\n"), to: path, force: true)
    #expect(second == EnvChanges(added: ["C"], changed: ["B"]))
    let third = try EnvFileWriter.write(SecretBytes(utf8: "C=4\n"), to: path, force: true)
    #expect(third == EnvChanges(removed: ["A", "B"]))
    // No temporary files are left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == [".env"])
  }

  @Test func refusesASymlinkAtTheTarget() throws {
    let directory = try TemporaryDirectory.make(prefix: "envwriter")
    let victim = directory + "/victim"
    _ = FileManager.default.createFile(atPath: victim, contents: Data("keep".utf8))
    let path = directory + "/.env"
    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim)
    #expect(throws: EnvFilesError.targetIsSymlink(path)) {
      try EnvFileWriter.write(SecretBytes(utf8: "A=1\n"), to: path, force: true)
    }
    #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep")
    #expect(
      Set(try FileManager.default.contentsOfDirectory(atPath: directory)) == ["victim", ".env"])
  }
}
