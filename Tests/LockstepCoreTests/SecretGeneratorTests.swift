import Foundation
import LockstepCore
import Testing

@Suite struct SecretGeneratorTests {
  /// RFC 4648 section 10 test vectors, checked through the encoder that writes secrets.
  @Test(arguments: [
    ("", "", ""), ("f", "Zg==", "Zg"), ("fo", "Zm8=", "Zm8"), ("foo", "Zm9v", "Zm9v"),
    ("foob", "Zm9vYg==", "Zm9vYg"), ("fooba", "Zm9vYmE=", "Zm9vYmE"),
    ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
  ])
  func base64MatchesRFC4648(input: String, padded: String, url: String) {
    let bytes = Array(input.utf8)
    let encoded = bytes.withUnsafeBytes { ByteEncoder.encode($0, as: .base64) }
    let encodedURL = bytes.withUnsafeBytes { ByteEncoder.encode($0, as: .base64url) }
    #expect(encoded.unsafeUTF8String() == padded)
    #expect(encodedURL.unsafeUTF8String() == url)
  }

  @Test func base64urlUsesTheURLAlphabet() {
    let bytes: [UInt8] = [0xFB, 0xFF, 0xBF]
    let standard = bytes.withUnsafeBytes { ByteEncoder.encode($0, as: .base64) }
    let url = bytes.withUnsafeBytes { ByteEncoder.encode($0, as: .base64url) }
    #expect(standard.unsafeUTF8String() == "+/+/")
    #expect(url.unsafeUTF8String() == "-_-_")
  }

  @Test func hexIsLowercaseTwoDigitsPerByte() {
    let bytes: [UInt8] = [0x00, 0x0F, 0xA5, 0xFF]
    let hex = bytes.withUnsafeBytes { ByteEncoder.encode($0, as: .hex) }
    #expect(hex.unsafeUTF8String() == "000fa5ff")
  }

  @Test func randomBytesDecodeToTheRequestedLength() throws {
    let generator = SecretGenerator.randomBytes(count: 48, encoding: .base64)
    try generator.validate()
    let value = generator.generate()
    let decoded = try #require(Data(base64Encoded: value.unsafeUTF8String() ?? ""))
    #expect(decoded.count == 48)
    #expect(generator.generate() != value)
  }

  @Test func passwordsHaveLengthAlphabetAndEveryRequiredClass() throws {
    let alphabet = SecretGenerator.safeAlphabet
    let generator = SecretGenerator.password(
      length: 24, alphabet: alphabet, required: [.lower, .upper, .digit])
    try generator.validate()
    for _ in 0..<200 {
      let password = generator.generate().unsafeArray()
      #expect(password.count == 24)
      #expect(password.allSatisfy(alphabet.contains))
      #expect(password.contains(where: SecretGenerator.CharacterClass.lower.members.contains))
      #expect(password.contains(where: SecretGenerator.CharacterClass.upper.members.contains))
      #expect(password.contains(where: SecretGenerator.CharacterClass.digit.members.contains))
    }
  }

  /// Each character of the alphabet should appear about equally often; a modulo bias or a
  /// fixed slot for required classes would skew this.
  @Test func passwordCharactersAreRoughlyUniform() {
    let alphabet = Array("abcdefghij".utf8)
    let generator = SecretGenerator.password(length: 1000, alphabet: alphabet, required: [])
    var counts = [UInt8: Int]()
    for _ in 0..<20 {
      for byte in generator.generate().unsafeArray() { counts[byte, default: 0] += 1 }
    }
    for byte in alphabet {
      let share = Double(counts[byte, default: 0]) / 20_000
      #expect(abs(share - 0.1) < 0.02, "character \(byte) share \(share)")
    }
  }

  @Test func invalidParametersAreRefusedWithASentence() {
    #expect(throws: SecretGenerator.Failure.self) {
      try SecretGenerator.randomBytes(count: 4, encoding: .hex).validate()
    }
    #expect(throws: SecretGenerator.Failure.self) {
      try SecretGenerator.password(
        length: 20, alphabet: Array("abcdefghijk".utf8), required: [.digit]
      ).validate()
    }
    do {
      try SecretGenerator.password(length: 5, alphabet: SecretGenerator.safeAlphabet, required: [])
        .validate()
      Issue.record("a 5-character password was accepted")
    } catch {
      #expect(error.description.contains("between 12 and 4096"))
    }
  }
}
