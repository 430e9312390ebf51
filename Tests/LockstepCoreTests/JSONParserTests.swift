import Foundation
import LockstepCore
import Testing

/// The JSON reader holds Vault's answers, and so every secret value, before anyone looks at
/// it: it must accept exactly RFC 8259, and what it accepts must come out as written.
@Suite("The JSON reader is strict RFC 8259")
struct JSONParserTests {
  private static func accepts(_ text: String) -> Bool { accepts(Array(text.utf8)) }

  private static func accepts(_ bytes: [UInt8]) -> Bool {
    (try? bytes.withUnsafeBytes { try JSONParser.parse($0) }) != nil
  }

  /// The value of `{"v": <json>}` as secret bytes, or nil when refused.
  private static func secret(_ json: String) -> String? {
    try? Array(#"{"v":\#(json)}"#.utf8).withUnsafeBytes { bytes in
      guard let member = try JSONParser.memberSpans(bytes, object: 0..<bytes.count).first
      else { return nil }
      return member.node.secret(in: bytes, span: member.span).unsafeUTF8String()
    }
  }

  @Test(
    "a number is one RFC 8259 number",
    arguments: [
      "1-+e", "1-2", "01", "-01", "00", "+1", ".5", "1.", "1.e3", "1e", "1e+", "-", "--1", "1ee2",
      "1.5.2", "0x10", "1e1.5", "Infinity", "-Infinity", "NaN", "- 1",
    ])
  func badNumbers(text: String) {
    #expect(!Self.accepts(text))
    #expect(!Self.accepts("[\(text)]"))
  }

  @Test(
    "a huge or tiny number is valid and stays exactly as written",
    arguments: [
      "1e999", "-1e999", "1E+999", "1e-999", "0", "-0", "0.0e0", "123456789012345678901234567890",
      "1.000000000000000000000000001", "-0.0000001e-00",
    ])
  func numbersKeptAsWritten(text: String) {
    #expect(Self.accepts(text))
    #expect(Self.secret(text) == text)
  }

  @Test(
    "a string escape is one of RFC 8259's, a \\u has four hex digits",
    arguments: [
      #""\a""#, #""\x41""#, #""\'""#, #""\u12""#, #""\u12G4""#, #""\uZZZZ""#, #""\U0041""#,
      #""\""#, #""\u""#, #""\0""#, "\"\\\u{0}\"",
    ])
  func badEscapes(text: String) {
    #expect(!Self.accepts(text))
  }

  @Test(
    "a lone UTF-16 surrogate is refused, not turned into U+FFFD",
    arguments: [
      #""\ud800""#, #""\udc00""#, #""\ud800x""#, #""\ud800\u0041""#, #""\ud800\ud800""#,
      #""\udfff\ud800""#, #""\ud83d\n""#,
    ])
  func loneSurrogates(text: String) {
    #expect(!Self.accepts(text))
  }

  @Test("control characters must be escaped inside strings")
  func controlCharacters() {
    for byte in UInt8(0)..<0x20 {
      #expect(!Self.accepts([0x22, byte, 0x22]), "raw control \(byte)")
    }
    #expect(Self.accepts([0x22, 0x7F, 0x22]))  // DEL is not a control character in JSON
    #expect(Self.secret(#""\u0000\u001f\/""#) == "\u{0}\u{1F}/")
  }

  @Test("bytes inside a string are well-formed UTF-8")
  func invalidUTF8() {
    let bad: [[UInt8]] = [
      [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
      [0xC3], [0xE2, 0x82], [0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
    ]
    for bytes in bad {
      #expect(!Self.accepts([0x22] + bytes + [0x22]), "\(bytes)")
      #expect(!Self.accepts([0x7B, 0x22] + bytes + [0x22, 0x3A, 0x31, 0x7D]), "key \(bytes)")
    }
    #expect(Self.accepts(Array("\"é€🔑\u{10FFFF}\"".utf8)))
  }

  @Test(
    "trailing commas, missing commas, and comments are refused",
    arguments: [
      "[1,]", "[1,,2]", "[,1]", #"{"a":1,}"#, #"{,"a":1}"#, #"{"a":1 "b":2}"#, "[1 2]",
      #"{"a"}"#, #"{"a":}"#, #"{1:1}"#, "[1]//c", "/*c*/[1]", "[1]]", "{}}", "", " ", "[",
      #"{'a':1}"#, "[tru]", "[nul]", "[True]", "\u{FEFF}[]", "[1]\u{0}", "[\u{C}]",
    ])
  func badStructure(text: String) {
    #expect(!Self.accepts(text))
  }

  @Test("nesting is limited, so a hostile answer cannot exhaust the stack")
  func deepNesting() {
    let limit = 512
    #expect(
      Self.accepts(
        String(repeating: "[", count: limit - 1) + String(repeating: "]", count: limit - 1)))
    #expect(
      !Self.accepts(
        String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)))
    #expect(!Self.accepts(String(repeating: #"{"a":"#, count: 100_000)))
    #expect(!Self.accepts(String(repeating: "[", count: 1_000_000)))
  }

  @Test("what is accepted decodes to exactly what was sent")
  func decoding() {
    #expect(Self.secret(#""a\"b\\c\/d\b\f\n\r\t""#) == "a\"b\\c/d\u{8}\u{C}\n\r\t")
    #expect(Self.secret(#""\ud83d\udd11\u00E9\u20ac""#) == "🔑é€")
    #expect(Self.secret(#""\uDBFF\uDFFF""#) == "\u{10FFFF}")
    #expect(Self.secret("\"raw é\"") == "raw é")
    #expect(Self.secret(" [ 1 , {\"k\" : null} ] ") == "[ 1 , {\"k\" : null} ]")
  }

  /// The public JSONTestSuite corpus (github.com/nst/JSONTestSuite, `test_parsing/`), run
  /// when `LOCKSTEP_JSONTESTSUITE` names that folder. The corpus is not vendored here.
  /// `i_` files (the RFC leaves them to the parser) are decided as docs/vault.md says.
  @Test(
    "JSONTestSuite: every y_ accepted, every n_ refused",
    .enabled(if: ProcessInfo.processInfo.environment["LOCKSTEP_JSONTESTSUITE"] != nil))
  func jsonTestSuite() throws {
    let folder = try #require(ProcessInfo.processInfo.environment["LOCKSTEP_JSONTESTSUITE"])
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    var counts: [String: (total: Int, accepted: Int)] = [:]
    var acceptedI: [String] = []
    for name in names where name.hasSuffix(".json") {
      let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
      let accepted = Self.accepts(bytes)
      let kind = String(name.prefix(2))
      counts[kind, default: (0, 0)].total += 1
      if accepted { counts[kind, default: (0, 0)].accepted += 1 }
      switch kind {
      case "y_": #expect(accepted, "\(name) should be accepted")
      case "n_": #expect(!accepted, "\(name) should be refused")
      default: if accepted { acceptedI.append(name) }
      }
    }
    let y = counts["y_"] ?? (0, 0)
    let n = counts["n_"] ?? (0, 0)
    let i = counts["i_"] ?? (0, 0)
    print(
      "JSONTestSuite: y_ accepted \(y.accepted)/\(y.total), n_ refused \(n.total - n.accepted)/\(n.total),"
        + " i_ accepted \(i.accepted)/\(i.total): \(acceptedI.joined(separator: " "))")
    #expect(y.total > 0 && n.total > 0)
  }
}
