/// Finds the byte span of a value inside a JSON document without decoding it.
///
/// A backup keeps each secret's `data` object exactly as Vault returned it (nested JSON,
/// numbers and escapes included) and sends it back verbatim on restore, so the secret
/// values never pass through a decoder or a `String`. Only structure is scanned here.
/// The Vault module's parser is internal; this stays until it offers a raw read/write.
enum RawJSON {
  struct Malformed: Error {}

  /// The span of the value at `keys` below the root object.
  static func span(_ bytes: UnsafeRawBufferPointer, path keys: [String]) throws -> Range<Int>? {
    var range = 0..<bytes.count
    for key in keys {
      guard let member = try member(bytes, in: range, key: key) else { return nil }
      range = member
    }
    return trim(bytes, range)
  }

  private static func trim(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
    var lower = range.lowerBound
    var upper = range.upperBound
    while lower < upper, isSpace(bytes[lower]) { lower += 1 }
    while upper > lower, isSpace(bytes[upper - 1]) { upper -= 1 }
    return lower..<upper
  }

  private static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
  }

  private static func member(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>, key: String)
    throws -> Range<Int>?
  {
    var index = range.lowerBound
    func skipSpace() { while index < range.upperBound, isSpace(bytes[index]) { index += 1 } }
    skipSpace()
    guard index < range.upperBound, bytes[index] == UInt8(ascii: "{") else { return nil }
    index += 1
    let wanted = Array(key.utf8)
    var found: Range<Int>?
    while true {
      skipSpace()
      guard index < range.upperBound else { throw Malformed() }
      if bytes[index] == UInt8(ascii: "}") { return found }
      if bytes[index] == UInt8(ascii: ",") {
        index += 1
        continue
      }
      let keyStart = index
      index = try skip(bytes, from: index, limit: range.upperBound)
      // Keys Vault uses here are plain ASCII, so a raw comparison is exact.
      let keyBytes = UnsafeRawBufferPointer(rebasing: bytes[(keyStart + 1)..<(index - 1)])
      skipSpace()
      guard index < range.upperBound, bytes[index] == UInt8(ascii: ":") else { throw Malformed() }
      index += 1
      skipSpace()
      let valueStart = index
      index = try skip(bytes, from: index, limit: range.upperBound)
      if keyBytes.elementsEqual(wanted) { found = valueStart..<index }
    }
  }

  /// The index just past the value starting at `start`.
  static func skip(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) throws -> Int {
    var index = start
    guard index < limit else { throw Malformed() }
    switch bytes[index] {
    case UInt8(ascii: "\""):
      index += 1
      while index < limit, bytes[index] != UInt8(ascii: "\"") {
        index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
      }
      guard index < limit else { throw Malformed() }
      return index + 1
    case UInt8(ascii: "{"), UInt8(ascii: "["):
      var depth = 0
      while index < limit {
        switch bytes[index] {
        case UInt8(ascii: "\""):
          index = try skip(bytes, from: index, limit: limit)
          continue
        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
          depth -= 1
          if depth == 0 { return index + 1 }
        default: break
        }
        index += 1
      }
      throw Malformed()
    default:
      while index < limit,
        !isSpace(bytes[index]), bytes[index] != UInt8(ascii: ","),
        bytes[index] != UInt8(ascii: "}"), bytes[index] != UInt8(ascii: "]")
      {
        index += 1
      }
      guard index > start else { throw Malformed() }
      return index
    }
  }
}
