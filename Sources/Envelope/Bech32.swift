/// Bech32 (BIP 173) without its 90-character limit, as age uses it for keys: a checksum
/// catches typos in pasted recipient strings, and the human-readable prefix says what the
/// string is.
enum Bech32 {
  private static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

  private static func polymod(_ values: [UInt8]) -> UInt32 {
    let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
    var check: UInt32 = 1
    for value in values {
      let top = check >> 25
      check = (check & 0x1ff_ffff) << 5 ^ UInt32(value)
      for index in 0..<5 where (top >> UInt32(index)) & 1 == 1 { check ^= generator[index] }
    }
    return check
  }

  private static func expand(_ hrp: [UInt8]) -> [UInt8] {
    hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
  }

  private static func convert(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
    var accumulator = 0
    var bits = 0
    var result: [UInt8] = []
    let maximum = (1 << to) - 1
    for value in data {
      if Int(value) >> from != 0 { return nil }
      accumulator = (accumulator << from) | Int(value)
      bits += from
      while bits >= to {
        bits -= to
        result.append(UInt8((accumulator >> bits) & maximum))
      }
    }
    if pad {
      if bits > 0 { result.append(UInt8((accumulator << (to - bits)) & maximum)) }
    } else if bits >= from || (accumulator << (to - bits)) & maximum != 0 {
      return nil
    }
    return result
  }

  static func encode(hrp: String, data: [UInt8], uppercase: Bool = false) -> String {
    let hrpBytes = Array(hrp.lowercased().utf8)
    let values = convert(data, from: 8, to: 5, pad: true)!
    let check = polymod(expand(hrpBytes) + values + [0, 0, 0, 0, 0, 0]) ^ 1
    let checksum = (0..<6).map { UInt8((check >> UInt32(5 * (5 - $0))) & 31) }
    let text =
      hrp.lowercased() + "1"
      + String(decoding: (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
    return uppercase ? text.uppercased() : text
  }

  /// The prefix (lowercased) and data, or nil for a bad checksum, mixed case or bad digits.
  static func decode(_ text: String) -> (hrp: String, data: [UInt8])? {
    let lower = text.lowercased()
    guard text == lower || text == text.uppercased() else { return nil }
    let bytes = Array(lower.utf8)
    guard let separator = bytes.lastIndex(of: UInt8(ascii: "1")), separator >= 1,
      bytes.count - separator - 1 >= 6
    else { return nil }
    let hrp = Array(bytes[..<separator])
    guard hrp.allSatisfy({ $0 >= 33 && $0 <= 126 }) else { return nil }
    var values: [UInt8] = []
    for byte in bytes[(separator + 1)...] {
      guard let index = charset.firstIndex(of: byte) else { return nil }
      values.append(UInt8(index))
    }
    guard polymod(expand(hrp) + values) == 1,
      let data = convert(Array(values.dropLast(6)), from: 5, to: 8, pad: false)
    else { return nil }
    return (String(decoding: hrp, as: UTF8.self), data)
  }
}
