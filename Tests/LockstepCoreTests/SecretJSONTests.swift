import Foundation
import LockstepCore
import Testing

@Suite("SecretJSON renders secret values into one wiped buffer")
struct SecretJSONTests {
  @Test func rendersValidJSONWithEscapesAndBase64() throws {
    let tricky = SecretBytes(utf8: "quote\" back\\ nl\n tab\t bell\u{7} é ✓")
    let binary = SecretBytes(copying: (0...255).map { UInt8($0) })
    let document = SecretJSON.object([
      ("name", .string("a\"b")), ("s", .secretString(tricky)), ("b", .secretBase64(binary)),
      ("n", .null), ("list", .array([.string("x"), .object([])])),
    ]).render()
    let parsed = try #require(
      try JSONSerialization.jsonObject(with: Data(document.unsafeArray())) as? [String: Any])
    #expect(parsed["name"] as? String == "a\"b")
    #expect(parsed["s"] as? String == tricky.unsafeUTF8String())
    #expect(parsed["b"] as? String == Data((0...255).map { UInt8($0) }).base64EncodedString())
    #expect(parsed["n"] is NSNull)
    #expect((parsed["list"] as? [Any])?.count == 2)
  }

  @Test func base64PaddingMatchesFoundation() {
    for length in 0..<8 {
      let bytes = (0..<length).map { UInt8($0 * 37 & 0xFF) }
      let rendered = SecretJSON.secretBase64(SecretBytes(copying: bytes)).render()
      #expect(
        rendered.unsafeUTF8String() == "\"" + Data(bytes).base64EncodedString() + "\"")
    }
  }

  @Test func detectsValuesThatAreNotUTF8() {
    #expect(SecretJSON.isUTF8(SecretBytes(utf8: "plain ✓")))
    #expect(!SecretJSON.isUTF8(SecretBytes(copying: [0x66, 0xFF, 0x66])))
  }
}
