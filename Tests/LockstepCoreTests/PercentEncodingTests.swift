import LockstepCore
import Testing

@Suite struct PercentEncodingTests {
  static func encode(_ text: String, keepingSlash: Bool = false) -> String {
    var out: [UInt8] = []
    Array(text.utf8).withUnsafeBytes {
      PercentEncoding.write($0, keepingSlash: keepingSlash, to: &out)
    }
    return String(decoding: out, as: UTF8.self)
  }

  @Test func onlyUnreservedCharactersStay() {
    #expect(Self.encode("AZaz09-._~") == "AZaz09-._~")
    #expect(Self.encode("p@ss w/rd:%+é") == "p%40ss%20w%2Frd%3A%25%2B%C3%A9")
    #expect(Self.encode("a/b c", keepingSlash: true) == "a/b%20c")
  }
}
