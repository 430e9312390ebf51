import EnvFiles
import Foundation
import LockstepCore
import TestSupport
import Testing

@Suite struct RendererTests {
  func render(_ pairs: [(String, String)], _ dialect: DotenvDialect) async throws
    -> EnvRender.Output
  {
    let source = StaticSecretSource([
      "secret/app": pairs.map { (name: $0.0, value: SecretBytes(utf8: $0.1)) }
    ])
    return try await EnvRender.render(
      path: "secret/app", template: nil, dialect: dialect, source: source)
  }

  func write(_ output: EnvRender.Output) throws -> String {
    let directory = try TemporaryDirectory.make(prefix: "envfiles")
    let path = directory + "/.env"
    try EnvFileWriter.write(output.content, to: path, force: false)
    return path
  }

  func expectSame(_ read: [String: [UInt8]], _ pairs: [(String, String)], _ reader: String) {
    for (name, value) in pairs {
      #expect(read[name] == Array(value.utf8), "\(reader) read \(name) back differently")
    }
    #expect(read.count >= pairs.count, "\(reader) lost keys")
  }

  @Test func portableReadsBackWithPythonDotenvAndSh() async throws {
    let output = try await render(Nasty.portable, .portable)
    let path = try write(output)
    expectSame(try ReadBack.python(path), Nasty.portable, "python-dotenv")
    expectSame(try ReadBack.sh(path, names: Nasty.portable.map(\.0)), Nasty.portable, "sh")
    let parsed = try DotenvFile.read(path)
    #expect(parsed.issues.isEmpty)
    for (name, value) in Nasty.portable {
      #expect(parsed.entry(named: name)?.value == SecretBytes(utf8: value), "\(name)")
    }
  }

  @Test func shDialectHoldsEverythingButNUL() async throws {
    let pairs =
      Nasty.portable + [
        ("INTERPOLATED", "${HOME} and ${X:-y}"), ("QUOTE_AND_DOLLAR", "it's $HOME `id`"),
        ("CR", "a\r\nb\r"), ("TRAILING_BACKSLASH", "ends with \\"),
      ]
    let path = try write(try await render(pairs, .sh))
    expectSame(try ReadBack.sh(path, names: pairs.map(\.0)), pairs, "sh")
  }

  @Test func pythonDialectHoldsQuotesWithDollarAndCR() async throws {
    let pairs =
      Nasty.portable + [
        ("QUOTE_AND_DOLLAR", "it's $HOME `id`"), ("CR", "a\r\nb\r"),
        ("TRAILING_BACKSLASH", "ends-with\\"),
      ]
    let path = try write(try await render(pairs, .pythonDotenv))
    expectSame(try ReadBack.python(path), pairs, "python-dotenv")
  }

  @Test(arguments: [
    ("P1", "${HOME}", RenderRefusal.pythonInterpolation),
    ("P2", "x${A:-b}y", RenderRefusal.pythonInterpolation),
    ("P3", "it's $HOME", RenderRefusal.noQuoting),
    ("P4", "a\rb", RenderRefusal.carriageReturn),
    ("P5", "ends\\", RenderRefusal.trailingBackslash),
    ("P6", "a\\\\b`c", RenderRefusal.noQuoting),
    ("P7", "it's `id`", RenderRefusal.noQuoting),
  ])
  func portableRefusesWhatCannotRoundTrip(name: String, value: String, reason: RenderRefusal)
    async throws
  {
    let directory = try TemporaryDirectory.make(prefix: "envfiles")
    do {
      _ = try await render([("FINE", "ok"), (name, value)], .portable)
      Issue.record("\(name) was rendered")
    } catch let error as EnvFilesError {
      #expect(error == .refused(dialect: .portable, keys: [.init(name: name, reason: reason)]))
      #expect(error.description.contains(name))
      #expect(!error.description.contains(value))
      #expect(error.exitStatus == .dataError)
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
  }

  @Test func refusesNUL() {
    for dialect in DotenvDialect.allCases {
      let result = DotenvRenderer.quote(SecretBytes(copying: [0x61, 0, 0x62]), dialect: dialect)
      #expect(throws: RenderRefusal.containsNUL) { try result.get() }
    }
  }

  /// Property: whatever a dialect agrees to write, Lockstep's parser reads back exactly, and
  /// for the dialects whose parsers run here, so do python-dotenv and sh.
  @Test(arguments: DotenvDialect.allCases)
  func everyRenderedMapParsesBack(dialect: DotenvDialect) async throws {
    var generator = SplitMix(seed: 42 &+ UInt64(dialect.rawValue.count))
    let pieces = [
      "a", "Z", "0", " ", "\t", "\n", "\r", "'", "\"", "`", "\\", "$", "{", "}", ":-", "#", "=",
      "é", "🔑", "${X}", "\\n", "export ", "\\'", "//",
    ]
    var accepted: [(String, String)] = []
    for index in 0..<400 {
      let count = Int(generator.next() % 12)
      let value = (0..<count).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }
        .joined()
      let name = "K\(index)"
      guard
        case .success(let line) = DotenvRenderer.line(
          name: name, value: SecretBytes(utf8: value), dialect: dialect)
      else { continue }
      accepted.append((name, value))
      if dialect == .kubectl { continue }  // no quoting: read back by kubectl below
      let document = DotenvParser.parse(line)
      #expect(document.issues.isEmpty, "\(dialect) \(name): \(document.issues)")
      #expect(document.entry(named: name)?.value == SecretBytes(utf8: value), "\(dialect) \(name)")
    }
    #expect(accepted.count > 40)
    let path = try write(try await render(accepted, dialect))
    switch dialect {
    case .portable:
      expectSame(try ReadBack.python(path), accepted, "python-dotenv")
      expectSame(try ReadBack.sh(path, names: accepted.map(\.0)), accepted, "sh")
    case .pythonDotenv: expectSame(try ReadBack.python(path), accepted, "python-dotenv")
    case .sh: expectSame(try ReadBack.sh(path, names: accepted.map(\.0)), accepted, "sh")
    case .kubectl: expectSame(try ReadBack.kubectl(path), accepted, "kubectl")
    case .compose, .node: break
    }
  }
}
