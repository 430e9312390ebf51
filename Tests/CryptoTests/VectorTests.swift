import Crypto
import LockstepCore
import Testing

/// Known-answer tests: each vector is copied from the document named beside it, so a
/// passing test means the wrapper computes the published function, not merely something
/// that round-trips.
@Suite struct VectorTests {
  func hex(_ text: String) -> [UInt8] { Hex.decode(text)! }
  func secret(_ text: String) -> SecretBytes { SecretBytes(copying: hex(text)) }

  /// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised 2005, Test Case
  /// 16 (AES-256, 96-bit IV, with additional data); the same vector is in NIST's GCM test
  /// material and in OpenSSL's evptests.
  @Test func aesGCMTestCase16() throws {
    let key = secret("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    let iv = hex("cafebabefacedbaddecaf888")
    let plaintext = hex(
      """
      d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
      1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39
      """)
    let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    let expected = hex(
      """
      522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
      8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
      76fc6ece0f4e1768cddf8853bb2d551b
      """)
    let sealed = try AESGCM.seal(plaintext, key: key, nonce: iv, authenticating: aad)
    #expect(Hex.encode(sealed) == Hex.encode(expected))
    let opened = try AESGCM.open(expected, key: key, nonce: iv, authenticating: aad)
    #expect(opened.unsafeArray() == plaintext)
  }

  /// The same document, Test Cases 13 and 14 (AES-256, zero key and IV, empty and 16 zero
  /// bytes of plaintext).
  @Test func aesGCMTestCases13And14() throws {
    let key = SecretBytes(copying: [UInt8](repeating: 0, count: 32))
    let iv = [UInt8](repeating: 0, count: 12)
    #expect(
      Hex.encode(try AESGCM.seal([], key: key, nonce: iv)) == "530f8afbc74536b9a963b4f1c4cb738b")
    #expect(
      Hex.encode(try AESGCM.seal([UInt8](repeating: 0, count: 16), key: key, nonce: iv))
        == "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919")
  }

  @Test func aesGCMRejectsEveryFlippedBitAndWrongAAD() throws {
    let key = SecretBytes.random(count: 32)
    let nonce = CryptoRandom.bytes(count: 12)
    let sealed = try AESGCM.seal(Array("attack at dawn".utf8), key: key, nonce: nonce)
    for index in sealed.indices {
      var altered = sealed
      altered[index] ^= 0x01
      #expect(throws: CryptoError.authenticationFailed) {
        try AESGCM.open(altered, key: key, nonce: nonce)
      }
    }
    #expect(throws: CryptoError.authenticationFailed) {
      try AESGCM.open(sealed, key: key, nonce: nonce, authenticating: [1])
    }
    #expect(throws: CryptoError.authenticationFailed) {
      try AESGCM.open(sealed, key: SecretBytes.random(count: 32), nonce: nonce)
    }
  }

  /// One context reused across many nonces (the streaming path) gives the same bytes as a
  /// fresh context per message.
  @Test func aesGCMContextReuseMatchesOneShot() throws {
    let key = SecretBytes.random(count: 32)
    let sealer = try AESGCM(key: key, direction: .seal)
    let opener = try AESGCM(key: key, direction: .open)
    for counter in 0..<20 {
      let nonce = [UInt8](repeating: 0, count: 11) + [UInt8(counter)]
      let message = CryptoRandom.bytes(count: counter * 977)
      var sealed = [UInt8](repeating: 0, count: message.count + 16)
      _ = try nonce.withUnsafeBytes { n in
        try message.withUnsafeBytes { m in
          try sealed.withUnsafeMutableBytes { try sealer.seal(nonce: n, plaintext: m, into: $0) }
        }
      }
      #expect(sealed == (try AESGCM.seal(message, key: key, nonce: nonce)))
      var opened = [UInt8](repeating: 0, count: message.count)
      _ = try nonce.withUnsafeBytes { n in
        try sealed.withUnsafeBytes { s in
          try opened.withUnsafeMutableBytes { try opener.open(nonce: n, sealed: s, into: $0) }
        }
      }
      #expect(opened == message)
    }
  }

  /// FIPS 180-2 appendix B.1 ("abc") and B.2, fed in pieces to exercise the incremental path.
  @Test func sha256() {
    #expect(
      Hex.encode(SHA256.hash("abc"))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    let hasher = SHA256()
    for piece in ["abcdbcdecdefdefgefghfghighijhijki", "jkljklmklmnlmnomnopnopq"] {
      hasher.update(piece)
    }
    #expect(
      Hex.encode(hasher.finalize())
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
  }

  /// RFC 4231 test cases 1 and 2.
  @Test func hmacSHA256() {
    let key1 = SecretBytes(copying: [UInt8](repeating: 0x0b, count: 20))
    #expect(
      Hex.encode(HMACSHA256.authenticate(Array("Hi There".utf8), key: key1))
        == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    let key2 = SecretBytes(utf8: "Jefe")
    let message = Array("what do ya want for nothing?".utf8)
    let mac = HMACSHA256.authenticate(message, key: key2)
    #expect(
      Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    #expect(HMACSHA256.isValid(mac, for: message, key: key2))
    #expect(!HMACSHA256.isValid(mac, for: message + [0], key: key2))
  }

  /// RFC 5869 test cases 1 and 3.
  @Test func hkdfSHA256() {
    let okm1 = HKDF.deriveKey(
      from: SecretBytes(copying: [UInt8](repeating: 0x0b, count: 22)),
      salt: hex("000102030405060708090a0b0c"), info: hex("f0f1f2f3f4f5f6f7f8f9"),
      outputByteCount: 42)
    #expect(
      Hex.encode(okm1.unsafeArray())
        == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    let okm3 = HKDF.deriveKey(
      from: SecretBytes(copying: [UInt8](repeating: 0x0b, count: 22)), salt: [], info: [],
      outputByteCount: 42)
    #expect(
      Hex.encode(okm3.unsafeArray())
        == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
  }

  /// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte).
  @Test func ed25519() throws {
    let cases = [
      (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
      ),
      (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
      ),
    ]
    for (seed, publicKey, message, signature) in cases {
      let pair = try Ed25519KeyPair(seed: secret(seed))
      #expect(Hex.encode(pair.publicKey) == publicKey)
      #expect(Hex.encode(pair.signature(for: hex(message))) == signature)
      #expect(
        Ed25519.isValidSignature(hex(signature), for: hex(message), publicKey: pair.publicKey))
      #expect(
        !Ed25519.isValidSignature(
          hex(signature), for: hex(message) + [0], publicKey: pair.publicKey))
      #expect(throws: CryptoError.invalidSignature) {
        try Ed25519.verify(hex(signature), for: [1, 2, 3], publicKey: pair.publicKey)
      }
    }
  }

  /// RFC 7748 section 6.1: Alice's public key from her private key.
  @Test func x25519PublicKey() throws {
    let alice = try X25519KeyPair(
      secretKey: secret("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
    #expect(
      Hex.encode(alice.publicKey)
        == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
  }

  /// RFC 7914 section 11 (PBKDF2-HMAC-SHA256, "passwd"/"salt", 1 iteration, 64 bytes).
  @Test func pbkdf2SHA256() throws {
    let derived = try LegacyOpenSSL.pbkdf2SHA256(
      passphrase: SecretBytes(utf8: "passwd"), salt: Array("salt".utf8), iterations: 1,
      count: 64)
    #expect(
      Hex.encode(derived.unsafeArray())
        == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        + "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
  }

  /// Argon2id v1.3 with libsodium's fixed parallelism of 1 and no secret or associated
  /// data. No RFC vector has that shape (RFC 9106's uses both), so the expected bytes were
  /// computed once by an independent implementation, Python `cryptography` 48's
  /// `Argon2id(salt=bytes(range(16)), length=32, iterations=2, lanes=1, memory_cost=64)`.
  @Test func argon2id() throws {
    let key = try Argon2id.deriveKey(
      from: SecretBytes(utf8: "correct horse battery staple"), salt: Array(0..<16),
      parameters: Argon2idParameters(iterations: 2, memoryKiB: 64))
    #expect(
      Hex.encode(key.unsafeArray())
        == "2df47ede6358ed17a9976d4fcedb897a10036d432a4acef17d263bfc98bd20ac")
  }
}
