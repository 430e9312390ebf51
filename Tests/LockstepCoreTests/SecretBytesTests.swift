import LockstepCore
import Testing

@Suite struct SecretBytesTests {
  @Test func descriptionNeverShowsTheBytes() {
    let secret = SecretBytes(utf8: "hunter2-very-secret")
    #expect("\(secret)" == "<redacted>")
    #expect(String(describing: secret) == "<redacted>")
    #expect(!String(reflecting: secret).contains("hunter2"))
    #expect(String(reflecting: secret).contains("19 bytes"))
  }

  @Test func equalityComparesContentsAndLength() {
    #expect(SecretBytes(utf8: "abc") == SecretBytes(copying: Array("abc".utf8)))
    #expect(SecretBytes(utf8: "abc") != SecretBytes(utf8: "abd"))
    #expect(SecretBytes(utf8: "abc") != SecretBytes(utf8: "abcd"))
    #expect(SecretBytes(utf8: "") == SecretBytes(copying: []))
  }

  @Test func consumingInitWipesTheSourceArray() {
    var source: [UInt8] = Array("password".utf8)
    let secret = SecretBytes(consuming: &source)
    #expect(source.isEmpty)
    #expect(secret.unsafeUTF8String() == "password")
  }

  @Test func wipeZeroesAnArray() {
    var bytes: [UInt8] = [1, 2, 3, 4]
    SecretBytes.wipe(&bytes)
    #expect(bytes == [0, 0, 0, 0])
  }

  @Test func randomSecretsDiffer() {
    let a = SecretBytes.random(count: 32)
    let b = SecretBytes.random(count: 32)
    #expect(a.count == 32)
    #expect(a != b)
  }

  @Test func invalidUTF8HasNoStringForm() {
    #expect(SecretBytes(copying: [0xFF, 0xFE]).unsafeUTF8String() == nil)
  }
}
