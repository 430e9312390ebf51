/// How a freshly generated secret is produced. Both forms write straight into
/// `SecretBytes`; no intermediate `String` holds the value.
public enum SecretGenerator: Sendable, Equatable {
  /// `count` random bytes, then encoded (the runbook's `openssl rand -base64 32`).
  case randomBytes(count: Int, encoding: ByteEncoding)
  /// `length` characters drawn uniformly from `alphabet`, with at least one from each of
  /// `required` (e.g. lower, upper, digit).
  case password(length: Int, alphabet: [UInt8], required: [CharacterClass])

  public enum ByteEncoding: String, Sendable, CaseIterable {
    case base64, base64url, hex
  }

  public enum CharacterClass: String, Sendable, CaseIterable {
    case lower, upper, digit, symbol

    public var members: [UInt8] {
      switch self {
      case .lower: Array(UInt8(ascii: "a")...UInt8(ascii: "z"))
      case .upper: Array(UInt8(ascii: "A")...UInt8(ascii: "Z"))
      case .digit: Array(UInt8(ascii: "0")...UInt8(ascii: "9"))
      case .symbol: Array("!#%+-.:=?@^_~".utf8)
      }
    }
  }

  /// The default alphabet: letters, digits and symbols that need no quoting in a URL's
  /// userinfo, a `.env` file or a shell word.
  public static let safeAlphabet: [UInt8] =
    CharacterClass.lower.members + CharacterClass.upper.members + CharacterClass.digit.members
    + Array("-_.~".utf8)

  public enum Failure: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
      switch self {
      case .invalid(let why): "invalid secret generator: \(why)"
      }
    }
  }

  /// Checks the parameters once, so that `generate()` cannot fail later in a rotation.
  public func validate() throws(Failure) {
    switch self {
    case .randomBytes(let count, _):
      guard (16...4096).contains(count) else {
        throw .invalid("random byte count must be between 16 and 4096, not \(count)")
      }
    case .password(let length, let alphabet, let required):
      guard (12...4096).contains(length) else {
        throw .invalid("password length must be between 12 and 4096, not \(length)")
      }
      guard Set(alphabet).count == alphabet.count, alphabet.count >= 10 else {
        throw .invalid("the alphabet needs at least 10 distinct characters")
      }
      guard alphabet.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
        throw .invalid("the alphabet may hold printable ASCII only")
      }
      guard required.count <= length else {
        throw .invalid("more required classes than characters")
      }
      for characterClass in required
      where !characterClass.members.contains(where: alphabet.contains) {
        throw .invalid("the alphabet has no \(characterClass.rawValue) character")
      }
    }
  }

  /// A new secret. Call `validate()` first: invalid parameters are a programming error here.
  public func generate() -> SecretBytes {
    switch self {
    case .randomBytes(let count, let encoding):
      let raw = SecretBytes.random(count: count)
      return raw.withUnsafeBytes { ByteEncoder.encode($0, as: encoding) }
    case .password(let length, let alphabet, let required):
      return Self.password(length: length, alphabet: alphabet, required: required)
    }
  }

  /// Draws every character uniformly, then redraws the whole password until each required
  /// class is present: rejection keeps the distribution uniform over all valid passwords,
  /// unlike forcing one character of each class into fixed or chosen slots.
  private static func password(length: Int, alphabet: [UInt8], required: [CharacterClass])
    -> SecretBytes
  {
    let requiredSets = required.map { Set($0.members).intersection(alphabet) }
    while true {
      let candidate = SecretBytes(count: length) { buffer in
        for index in 0..<length {
          buffer[index] = alphabet[Int(SystemRandom.uniform(below: UInt32(alphabet.count)))]
        }
      }
      let satisfied = candidate.withUnsafeBytes { bytes in
        requiredSets.allSatisfy { set in bytes.contains(where: set.contains) }
      }
      if satisfied { return candidate }
    }
  }
}

/// Encodes bytes straight into `SecretBytes`, so an encoded secret never passes through a
/// `String` or `Data` that could not be wiped.
public enum ByteEncoder {
  private static let base64Alphabet = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
  private static let base64URLAlphabet = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
  private static let hexDigits = Array("0123456789abcdef".utf8)

  public static func encode(
    _ input: UnsafeRawBufferPointer, as encoding: SecretGenerator.ByteEncoding
  ) -> SecretBytes {
    switch encoding {
    case .hex:
      return SecretBytes(count: input.count * 2) { out in
        for (index, byte) in input.enumerated() {
          out[2 * index] = hexDigits[Int(byte >> 4)]
          out[2 * index + 1] = hexDigits[Int(byte & 0x0F)]
        }
      }
    case .base64:
      return base64(input, alphabet: base64Alphabet, padded: true)
    case .base64url:
      return base64(input, alphabet: base64URLAlphabet, padded: false)
    }
  }

  private static func base64(_ input: UnsafeRawBufferPointer, alphabet: [UInt8], padded: Bool)
    -> SecretBytes
  {
    let remainder = input.count % 3
    let outputCount =
      input.count / 3 * 4 + (remainder == 0 ? 0 : (padded ? 4 : remainder + 1))
    return SecretBytes(count: outputCount) { out in
      var writer = FixedBufferAppender(buffer: out)
      writeBase64(input, alphabet: alphabet, padded: padded, to: &writer)
    }
  }

  /// The one base64 encoder (RFC 4648; standard alphabet and `=` padding by default),
  /// writing into `sink`: the generators, backup payloads and kubectl's Secret JSON use it.
  public static func writeBase64(
    _ input: UnsafeRawBufferPointer, to sink: inout some ByteAppender
  ) {
    writeBase64(input, alphabet: base64Alphabet, padded: true, to: &sink)
  }

  private static func writeBase64(
    _ input: UnsafeRawBufferPointer, alphabet: [UInt8], padded: Bool,
    to sink: inout some ByteAppender
  ) {
    var index = 0
    while index + 3 <= input.count {
      let word =
        UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
      sink.append(alphabet[Int(word >> 18 & 63)])
      sink.append(alphabet[Int(word >> 12 & 63)])
      sink.append(alphabet[Int(word >> 6 & 63)])
      sink.append(alphabet[Int(word & 63)])
      index += 3
    }
    let rest = input.count - index
    guard rest > 0 else { return }
    let word = UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
    sink.append(alphabet[Int(word >> 18 & 63)])
    sink.append(alphabet[Int(word >> 12 & 63)])
    if rest == 2 { sink.append(alphabet[Int(word >> 6 & 63)]) }
    if padded {
      if rest == 1 { sink.append(UInt8(ascii: "=")) }
      sink.append(UInt8(ascii: "="))
    }
  }
}

/// Appends into a buffer whose final size is known in advance.
public struct FixedBufferAppender: ByteAppender {
  public let buffer: UnsafeMutableRawBufferPointer
  public private(set) var offset = 0

  public init(buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

  public mutating func append(_ byte: UInt8) {
    buffer[offset] = byte
    offset += 1
  }

  public mutating func append(_ bytes: UnsafeRawBufferPointer) {
    UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + bytes.count]).copyMemory(
      from: bytes)
    offset += bytes.count
  }
}
