/// Base64 straight between secret buffers, so that a value never becomes a `String` (or an
/// un-wiped `Data`) on its way into or out of a backup payload, a Transit call or a
/// Kubernetes Secret.
public enum Base64 {
  private static let alphabet = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
  private static let decodeTable: [UInt8] = {
    var table = [UInt8](repeating: 0xFF, count: 256)
    for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
    return table
  }()

  public static func encode(_ input: UnsafeRawBufferPointer, into buffer: SecretBuffer) {
    var sink = buffer
    ByteEncoder.writeBase64(input, to: &sink)
  }

  /// nil when `input` is not canonical padded base64.
  public static func decode(_ input: UnsafeRawBufferPointer) -> SecretBytes? {
    guard input.count % 4 == 0 else { return nil }
    let buffer = SecretBuffer(capacity: input.count / 4 * 3)
    var index = 0
    while index < input.count {
      var value: UInt32 = 0
      var padding = 0
      for offset in 0..<4 {
        let byte = input[index + offset]
        if byte == UInt8(ascii: "=") && index + 4 == input.count && offset >= 2 {
          padding += 1
          value <<= 6
          continue
        }
        let digit = decodeTable[Int(byte)]
        guard digit != 0xFF, padding == 0 else { return nil }
        value = value << 6 | UInt32(digit)
      }
      buffer.append(UInt8(value >> 16 & 0xFF))
      if padding < 2 { buffer.append(UInt8(value >> 8 & 0xFF)) }
      if padding < 1 { buffer.append(UInt8(value & 0xFF)) }
      index += 4
    }
    return buffer.takeSecret()
  }
}
