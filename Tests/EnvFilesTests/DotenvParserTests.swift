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
        DotenvIssue(line: 2, kind: .invalidName, name: "my-key"),
        DotenvIssue(line: 3, kind: .duplicateKey(firstLine: 1), name: "A"),
        DotenvIssue(line: 4, kind: .invalidName, name: "1ABC"),
        DotenvIssue(line: 5, kind: .missingEquals, name: "NOEQUALS"),
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
