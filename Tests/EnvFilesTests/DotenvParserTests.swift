import EnvFiles
import LockstepCore
import Testing

@Suite struct DotenvParserTests {
  func value(_ document: DotenvDocument, _ name: String) -> String? {
    document.entry(named: name)?.value.unsafeUTF8String()
  }

  @Test func fullSyntax() {
    let text = """
      # full-line comment
      export EXPORTED=yes
      PLAIN=hello world   # inline comment
      TIGHT=abc#def
      EMPTY=
      EMPTY_QUOTED=''
      SINGLE='literal $HOME \\n # kept'
      DOUBLE="tab\\tnew\\nline \\"q\\" \\\\ \\$"
      MULTI="first
      second"
      SPACED = spaced value
      CONCAT='it'\\''s'
      NODE=`it's "both"`
      CRLF=windows\r
      """
    let document = DotenvParser.parse(text)
    #expect(document.issues.isEmpty, "\(document.issues)")
    #expect(value(document, "EXPORTED") == "yes")
    #expect(value(document, "PLAIN") == "hello world")
    #expect(value(document, "TIGHT") == "abc#def")
    #expect(value(document, "EMPTY") == "")
    #expect(value(document, "EMPTY_QUOTED") == "")
    #expect(value(document, "SINGLE") == "literal $HOME \\n # kept")
    #expect(value(document, "DOUBLE") == "tab\tnew\nline \"q\" \\ $")
    #expect(value(document, "MULTI") == "first\nsecond")
    #expect(value(document, "SPACED") == "spaced value")
    #expect(value(document, "CONCAT") == "it's")
    #expect(value(document, "NODE") == "it's \"both\"")
    #expect(value(document, "CRLF") == "windows")
    #expect(document.entry(named: "MULTI")?.line == 9)
    #expect(document.entry(named: "SPACED")?.line == 11)
  }

  @Test func reportsDuplicatesAndInvalidNamesWithLines() {
    let text = """
      A=1
      my-key=2
      A=3
      1ABC=4
      NOEQUALS
      B='never closed
      C=ok
      D="x" trailing
      https://user:pass@host/x=1
      """
    let document = DotenvParser.parse(text)
    #expect(document.names == ["A", "C"])
    #expect(value(document, "A") == "3")
    #expect(
      document.issues == [
        DotenvIssue(line: 2, kind: .invalidName, name: nil),
        DotenvIssue(line: 3, kind: .duplicateKey(firstLine: 1), name: "A"),
        DotenvIssue(line: 4, kind: .invalidName, name: nil),
        DotenvIssue(line: 5, kind: .missingEquals, name: nil),
        DotenvIssue(line: 6, kind: .unterminatedQuote, name: "B"),
        DotenvIssue(line: 8, kind: .unexpectedText, name: "D"),
        DotenvIssue(line: 9, kind: .invalidName, name: nil),
      ])
    #expect(!document.issues.map(\.description).joined().contains("pass"))
  }

  @Test func randomBytesNeverCrash() {
    var generator = SplitMix(seed: 0x5EED)
    let alphabet = Array("AB_=#'\"`\\$ \t\r\nexport{}x".utf8)
    for round in 0..<3_000 {
      let length = Int(generator.next() % 120)
      let bytes = (0..<length).map { _ -> UInt8 in
        round % 2 == 0
          ? UInt8(truncatingIfNeeded: generator.next())
          : alphabet[Int(generator.next() % UInt64(alphabet.count))]
      }
      let document = DotenvParser.parse(bytes: bytes)
      for issue in document.issues { #expect(issue.line >= 1) }
      for entry in document.entries { #expect(DotenvParser.isValidName(entry.name)) }
    }
  }
}

/// A small deterministic generator so a failing property test can be replayed.
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Issue 11 item 5: a parse problem names the line and the reason, never the line's text.
@Suite struct DotenvIssueSecrecyTests {
  let token = "ghp_R3aLlYs3cr3tT0k3nV4lu3xyz"

  @Test func aLineWithoutEqualsIsNeverEchoed() {
    let document = DotenvParser.parse("A=1\nB=2\n\(token)\nC=3\n")
    #expect(document.names == ["A", "B", "C"])
    #expect(document.issues == [DotenvIssue(line: 3, kind: .missingEquals, name: nil)])
    let text = document.issues.map(\.description).joined()
    #expect(text.contains("line 3"))
    #expect(!text.contains("ghp_"))
  }

  @Test func invalidNamesAreNotEchoed() {
    let document = DotenvParser.parse("my-\(token)=1\n")
    #expect(document.issues == [DotenvIssue(line: 1, kind: .invalidName, name: nil)])
    #expect(!document.issues.map(\.description).joined().contains("ghp_"))
  }

  /// An unquoted PEM block: the body lines are part of the value, never keys or echoed text.
  @Test func anUnquotedPEMBlockIsOneIssueAndNoKeys() {
    let body = [
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7pemBodyLine1",
      "q2sZXpemBodyLine2WithNoSlashOrPlus0123456789abcdefABCDEF",
      "dGVzdHBlbWJvZHlsYXN0bGluZQ==",
    ]
    let text = """
      BEFORE=1
      TLS_KEY=-----BEGIN PRIVATE KEY-----
      \(body.joined(separator: "\n"))
      -----END PRIVATE KEY-----
      AFTER=2

      """
    let document = DotenvParser.parse(text)
    #expect(document.names == ["BEFORE", "TLS_KEY", "AFTER"])
    #expect(document.entry(named: "AFTER")?.line == 7)
    #expect(document.issues == [DotenvIssue(line: 2, kind: .unquotedMultiline, name: "TLS_KEY")])
    let described = document.issues.map(\.description).joined()
    for line in body { #expect(!described.contains(String(line.prefix(12)))) }
  }

  /// Without an END line, only the lines that look like base64 are skipped.
  @Test func anUnterminatedPEMBlockStopsAtTheFirstBinding() {
    let text = "K=-----BEGIN CERTIFICATE-----\nMIIBbase64line\nabc/def+ghi=\nNEXT=value ok\n"
    let document = DotenvParser.parse(text)
    #expect(document.names == ["K", "NEXT"])
    #expect(document.issues.map(\.line) == [1])
  }
}
