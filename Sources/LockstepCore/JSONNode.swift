/// A parsed JSON document that points into the bytes it was parsed from instead of copying
/// strings out of them.
///
/// Vault answers a read with the secret values inside JSON; `JSONSerialization` would turn
/// each one into a `String` that cannot be wiped. Here a string is a byte range, and the
/// caller decides whether it becomes a `String` (keys, versions, metadata) or goes straight
/// into a `SecretBytes` (values). Valid only inside the `withUnsafeBytes` scope it was
/// parsed in.
public indirect enum JSONNode {
  /// Members in document order, each with the byte span of its value.
  case object([JSONMember])
  case array([JSONNode])
  /// The raw bytes between the quotes, escapes not yet decoded.
  case string(Range<Int>)
  case number(Range<Int>)
  case bool(Bool)
  case null

  public subscript(key: String) -> JSONNode? { member(key)?.value }

  /// The last member named `key` (JSON leaves duplicates to the reader; Go keeps the last).
  public func member(_ key: String) -> JSONMember? {
    guard case .object(let members) = self else { return nil }
    return members.last(where: { $0.key == key })
  }

  public var isNull: Bool {
    if case .null = self { return true }
    return false
  }

  /// The span of this value in the source, for values kept as raw JSON text.
  public func text(in bytes: UnsafeRawBufferPointer) -> String? {
    switch self {
    case .string(let range):
      let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
      if !raw.contains(UInt8(ascii: "\\")) { return String(decoding: raw, as: UTF8.self) }
      let buffer = SecretBuffer(capacity: range.count)
      JSONParser.unescape(bytes, range, into: buffer)
      return buffer.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    case .number(let range):
      return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    case .bool(let value): return value ? "true" : "false"
    default: return nil
    }
  }

  public func int(in bytes: UnsafeRawBufferPointer) -> Int? {
    switch self {
    // `Int(exactly:)`: `1e999` (infinity), `1e300` or `1.5` is no integer, and never a trap.
    case .number:
      return text(in: bytes).flatMap { Int($0) ?? Double($0).flatMap(Int.init(exactly:)) }
    case .string: return text(in: bytes).flatMap { Int($0) }
    default: return nil
    }
  }

  public var bool: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  public func strings(in bytes: UnsafeRawBufferPointer) -> [String] {
    guard case .array(let items) = self else { return [] }
    return items.compactMap { $0.text(in: bytes) }
  }

  public func stringMap(in bytes: UnsafeRawBufferPointer) -> [String: String] {
    guard case .object(let members) = self else { return [:] }
    var result: [String: String] = [:]
    for member in members { result[member.key] = member.value.text(in: bytes) }
    return result
  }

  /// The value as secret bytes: a string decoded, anything else as its JSON text. The
  /// bytes go from the response buffer to the secret without an intermediate `String`.
  public func secret(in bytes: UnsafeRawBufferPointer, span: Range<Int>) -> SecretBytes {
    var source = span
    if case .string(let range) = self {
      source = range
      if UnsafeRawBufferPointer(rebasing: bytes[range]).contains(UInt8(ascii: "\\")) {
        let buffer = SecretBuffer(capacity: range.count)
        JSONParser.unescape(bytes, range, into: buffer)
        return buffer.takeSecret()
      }
    }
    // Nothing to decode (the usual case): one copy, straight into the secret.
    return SecretBytes(count: source.count) { target in
      if !source.isEmpty {
        target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[source]))
      }
    }
  }
}

/// One member of a parsed object: its key (decoded), its value, and where the value's
/// text is in the source, so that a non-string value can be kept as its exact JSON text.
public struct JSONMember {
  public let key: String
  public let value: JSONNode
  public let span: Range<Int>
}

/// A strict RFC 8259 parser over raw bytes producing `JSONNode`s. Object members also keep
/// the span of each value so that non-string secret values can be kept as their JSON text.
public struct JSONParser {
  public struct Malformed: Error {}

  let bytes: UnsafeRawBufferPointer
  private var index = 0
  private(set) var spans: [Range<Int>] = []

  private init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONNode {
    var parser = JSONParser(bytes)
    parser.skipWhitespace()
    let node = try parser.value(depth: 0)
    parser.skipWhitespace()
    guard parser.index == bytes.count else { throw Malformed() }
    return node
  }

  /// Members of the object whose text starts at `object.lowerBound`, with the byte span
  /// of each value (used for the secret data object).
  public static func memberSpans(_ bytes: UnsafeRawBufferPointer, object: Range<Int>) throws
    -> [(key: String, node: JSONNode, span: Range<Int>)]
  {
    var parser = JSONParser(bytes)
    parser.index = object.lowerBound
    parser.skipWhitespace()
    guard parser.peek == UInt8(ascii: "{"), case .object(let members) = try parser.value(depth: 0)
    else { throw Malformed() }
    return members.map { ($0.key, $0.value, $0.span) }
  }

  /// The span of the value reached by following `keys` from the root; one parse.
  public static func span(_ bytes: UnsafeRawBufferPointer, path keys: [String]) throws -> Range<
    Int
  >? {
    var parser = JSONParser(bytes)
    parser.skipWhitespace()
    let start = parser.index
    var node = try parser.value(depth: 0)
    var range = start..<parser.index
    for key in keys {
      guard let member = node.member(key) else { return nil }
      node = member.value
      range = member.span
    }
    return range
  }

  private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

  private mutating func expect(_ byte: UInt8) throws {
    guard peek == byte else { throw Malformed() }
    index += 1
  }

  private mutating func skipWhitespace() {
    while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
      index += 1
    }
  }

  private mutating func literal(_ text: StaticString, _ node: JSONNode) throws -> JSONNode {
    let count = text.utf8CodeUnitCount
    guard index + count <= bytes.count else { throw Malformed() }
    for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] {
      throw Malformed()
    }
    index += count
    return node
  }

  private mutating func value(depth: Int) throws -> JSONNode {
    guard depth < 512, let byte = peek else { throw Malformed() }
    switch byte {
    case UInt8(ascii: "{"):
      index += 1
      var members: [JSONMember] = []
      skipWhitespace()
      if peek == UInt8(ascii: "}") {
        index += 1
        return .object(members)
      }
      while true {
        skipWhitespace()
        guard case .string(let keyRange) = try value(depth: depth + 1) else { throw Malformed() }
        skipWhitespace()
        try expect(UInt8(ascii: ":"))
        skipWhitespace()
        let valueStart = index
        let member = try value(depth: depth + 1)
        members.append(
          JSONMember(
            key: JSONNode.string(keyRange).text(in: bytes) ?? "", value: member,
            span: valueStart..<index))
        skipWhitespace()
        if peek == UInt8(ascii: ",") {
          index += 1
          continue
        }
        try expect(UInt8(ascii: "}"))
        return .object(members)
      }
    case UInt8(ascii: "["):
      index += 1
      var items: [JSONNode] = []
      skipWhitespace()
      if peek == UInt8(ascii: "]") {
        index += 1
        return .array(items)
      }
      while true {
        skipWhitespace()
        items.append(try value(depth: depth + 1))
        skipWhitespace()
        if peek == UInt8(ascii: ",") {
          index += 1
          continue
        }
        try expect(UInt8(ascii: "]"))
        return .array(items)
      }
    case UInt8(ascii: "\""):
      index += 1
      let start = index
      try scanString()
      return .string(start..<(index - 1))
    case UInt8(ascii: "t"): return try literal("true", .bool(true))
    case UInt8(ascii: "f"): return try literal("false", .bool(false))
    case UInt8(ascii: "n"): return try literal("null", .null)
    default:
      let start = index
      try scanNumber()
      return .number(start..<index)
    }
  }

  /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, nothing more. A valid number
  /// stays as written however large (`1e999`: a secret may hold it, and Vault keeps it as
  /// text); a field that must be an integer refuses it where it is read (`int(in:)` never
  /// traps, and the KV reader turns a non-integer version into an error).
  private mutating func scanNumber() throws {
    func isDigit(_ byte: UInt8?) -> Bool {
      byte.map { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } ?? false
    }
    func digits() throws {
      guard isDigit(peek) else { throw Malformed() }
      while isDigit(peek) { index += 1 }
    }
    if peek == UInt8(ascii: "-") { index += 1 }
    if peek == UInt8(ascii: "0") {
      index += 1
    } else {
      try digits()
    }
    if peek == UInt8(ascii: ".") {
      index += 1
      try digits()
    }
    if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
      index += 1
      if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
      try digits()
    }
  }

  /// Moves past the rest of a string (the opening quote is behind) and its closing quote,
  /// refusing what RFC 8259 refuses: a raw control character, an escape it does not name,
  /// a `\u` without four hex digits, a UTF-16 surrogate that is not half of a pair (it has
  /// no UTF-8 form; turning it into U+FFFD would change a secret silently), and bytes that
  /// are not well-formed UTF-8. What passes here, `unescape` decodes without a question.
  private mutating func scanString() throws {
    while let byte = peek {
      switch byte {
      case UInt8(ascii: "\""):
        index += 1
        return
      case UInt8(ascii: "\\"):
        guard index + 1 < bytes.count else { throw Malformed() }
        switch bytes[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
          UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
          index += 2
        case UInt8(ascii: "u"):
          guard let unit = Self.hex(bytes, at: index + 2, end: bytes.count) else {
            throw Malformed()
          }
          index += 6
          if unit >= 0xDC00 && unit < 0xE000 { throw Malformed() }
          if unit >= 0xD800 && unit < 0xDC00 {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
              bytes[index + 1] == UInt8(ascii: "u"),
              let low = Self.hex(bytes, at: index + 2, end: bytes.count),
              low >= 0xDC00 && low < 0xE000
            else { throw Malformed() }
            index += 6
          }
        default: throw Malformed()
        }
      case 0..<0x20: throw Malformed()
      case 0..<0x80: index += 1
      default: index += try Self.utf8SequenceLength(bytes, at: index)
      }
    }
    throw Malformed()
  }

  /// The length of the well-formed UTF-8 sequence at `at` (Unicode 15 table 3-7: no
  /// overlong forms, no surrogates, nothing above U+10FFFF).
  private static func utf8SequenceLength(_ bytes: UnsafeRawBufferPointer, at: Int) throws -> Int {
    let lead = bytes[at]
    let count: Int
    var low: UInt8 = 0x80
    var high: UInt8 = 0xBF
    switch lead {
    case 0xC2...0xDF: count = 2
    case 0xE0:
      count = 3
      low = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: count = 3
    case 0xED:
      count = 3
      high = 0x9F
    case 0xF0:
      count = 4
      low = 0x90
    case 0xF1...0xF3: count = 4
    case 0xF4:
      count = 4
      high = 0x8F
    default: throw Malformed()
    }
    guard at + count <= bytes.count else { throw Malformed() }
    guard bytes[at + 1] >= low && bytes[at + 1] <= high else { throw Malformed() }
    for offset in 2..<count where bytes[at + offset] & 0xC0 != 0x80 { throw Malformed() }
    return count
  }

  /// The four hex digits at `at` as a number, nil when they are not four hex digits.
  static func hex(_ bytes: UnsafeRawBufferPointer, at: Int, end: Int) -> UInt32? {
    guard at + 4 <= end else { return nil }
    var value: UInt32 = 0
    for offset in 0..<4 {
      let byte = bytes[at + offset]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: return nil
      }
      value = value << 4 | UInt32(digit)
    }
    return value
  }

  /// Decodes the JSON string escapes of `range` into `buffer` (UTF-8). `range` is a string
  /// the parser accepted, so every escape is valid and every surrogate is paired.
  public static func unescape(
    _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, into buffer: SecretBuffer
  ) {
    var index = range.lowerBound
    func hex(_ at: Int) -> UInt32? { Self.hex(bytes, at: at, end: range.upperBound) }
    while index < range.upperBound {
      let byte = bytes[index]
      guard byte == UInt8(ascii: "\\"), index + 1 < range.upperBound else {
        // A run without escapes goes in with one copy.
        var end = index + 1
        while end < range.upperBound, bytes[end] != UInt8(ascii: "\\") { end += 1 }
        buffer.append(UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
        index = end
        continue
      }
      let escaped = bytes[index + 1]
      index += 2
      switch escaped {
      case UInt8(ascii: "n"): buffer.append(0x0A)
      case UInt8(ascii: "t"): buffer.append(0x09)
      case UInt8(ascii: "r"): buffer.append(0x0D)
      case UInt8(ascii: "b"): buffer.append(0x08)
      case UInt8(ascii: "f"): buffer.append(0x0C)
      case UInt8(ascii: "u"):
        guard var scalar = hex(index) else { break }
        index += 4
        if scalar >= 0xD800 && scalar < 0xDC00, index + 6 <= range.upperBound,
          bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
          let low = hex(index + 2), low >= 0xDC00 && low < 0xE000
        {
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
          index += 6
        }
        appendUTF8(Unicode.Scalar(scalar) ?? "\u{FFFD}", to: buffer)
      default: buffer.append(escaped)
      }
    }
  }

  private static func appendUTF8(_ scalar: Unicode.Scalar, to buffer: SecretBuffer) {
    for unit in UTF8.encode(scalar)! { buffer.append(unit) }
  }
}
