import Drift
import Foundation
import LockstepCore
import TestSupport
import Testing

@Suite struct DriftCheckTests {
  func load(_ fixture: DriftFixture, _ source: String, environment: [String] = []) async throws
    -> KeyInventory
  {
    let current = FileManager.default.currentDirectoryPath
    let spec = try SourceSpec(parsing: source)
    // Relative paths resolve against the fixture, as the CLI does from its cwd.
    let absolute: SourceSpec
    switch spec {
    case .dotenv(let path): absolute = .dotenv(path: fixture.root + "/" + path)
    case .keys(let path): absolute = .keys(path: fixture.root + "/" + path)
    case .code(let glob): absolute = .code(glob: fixture.root + "/" + glob)
    default: absolute = spec
    }
    _ = current
    let loader = SourceLoader(connections: DriftConnections(environmentNames: { environment }))
    return try await loader.load(absolute)
  }

  @Test func knownDriftInTheFixture() async throws {
    let fixture = try DriftFixture.make()
    let expected = try await load(fixture, "keys:env_keys.txt")
    #expect(expected.sortedNames == DriftFixture.expectedKeys.sorted())
    let dotenv = try await load(fixture, "dotenv:.env")
    let code = try await load(fixture, "code:{src,cmd}/**/*.{js,py,go}")
    let report = DriftCheck.compare(expected: expected, against: [dotenv, code])

    #expect(report.hasDrift)
    #expect(report.sources[0].missing.map(\.key) == ["MINIO_SECRET_KEY", "REDIS_URL"])
    #expect(report.sources[0].extra.map(\.key) == ["LEGACY_TOKEN", "redis_url"])
    #expect(report.sources[0].warnings.map(\.kind).sorted() == ["case", "empty"])
    #expect(report.sources[0].warnings.contains { $0.key == "EMPTY_OK" && $0.line == 9 })
    #expect(report.sources[1].missing.map(\.key) == ["EMPTY_OK", "MINIO_SECRET_KEY"])
    #expect(report.sources[1].extra.map(\.key) == ["FEATURE_FLAG", "STRIPE_KEY"])
    let stripe = report.sources[1].extra[1]
    #expect(stripe.file?.hasSuffix("src/billing.py") == true && stripe.line == 3)
    #expect(report.sources[0].missing[1].line == 5)  // REDIS_URL in env_keys.txt
  }

  @Test func ignoreGlobsRemoveKeysOnBothSides() async throws {
    let fixture = try DriftFixture.make()
    let expected = try await load(fixture, "keys:env_keys.txt")
    let dotenv = try await load(fixture, "dotenv:.env")
    let report = DriftCheck.compare(
      expected: expected, against: [dotenv],
      ignore: ["MINIO_*", "REDIS_URL", "redis_url", "LEGACY_*"])
    #expect(!report.hasDrift)
    #expect(report.expected.count == 4)
  }

  @Test func environmentSourceFiltersNamesWithARegex() async throws {
    let fixture = try DriftFixture.make()
    let names = ["DATABASE_URL", "REDIS_URL", "MINIO_ROOT", "HOME", "PATH", "MY_DATABASE_URL"]
    let inventory = try await load(fixture, "env:^(DATABASE_|REDIS_|MINIO_)", environment: names)
    #expect(inventory.sortedNames == ["DATABASE_URL", "MINIO_ROOT", "REDIS_URL"])
    await #expect(throws: DriftError.badPattern("(")) { try await load(fixture, "env:(") }
  }

  @Test func codeScannerFindsEveryAccessor() {
    let source = """
      process.env.A1; process.env['A2']; import.meta.env.A3
      os.environ["A4"]; os.environ.get("A5"); os.getenv('A6')
      os.Getenv("A7"); os.LookupEnv("A8"); ENV["A9"]; ENV.fetch("A10")
      ProcessInfo.processInfo.environment["A11"]; System.getenv("A12"); std::env::var("A13")
      myprocess.env.NOT1; process.env[dynamic]; os.getenv(name)
      """
    let names = CodeScanner.references(in: Array(source.utf8)).map(\.name)
    #expect(names == (1...13).map { "A\($0)" })
  }

  @Test func sourceSyntax() throws {
    #expect(
      try SourceSpec(parsing: "k8s:aura/aura-api/api")
        == .k8s(namespace: "aura", deployment: "aura-api", container: "api"))
    #expect(
      try SourceSpec(parsing: "vault:secret/aura/production")
        == .vault(path: "secret/aura/production"))
    for bad in ["nope", "file:x", "k8s:onlyone", "vault:nomount", "dotenv:"] {
      #expect(throws: DriftError.self) { try SourceSpec(parsing: bad) }
    }
  }

  @Test func unreadableSourceIsOneSentence() async throws {
    let fixture = try DriftFixture.make()
    await #expect(throws: DriftError.self) { try await load(fixture, "dotenv:missing.env") }
    let loader = SourceLoader()
    await #expect(
      throws: DriftError.unreadable(
        source: "vault:secret/x", reason: "no Vault client is configured")
    ) {
      try await loader.load(.vault(path: "secret/x"))
    }
  }
}
