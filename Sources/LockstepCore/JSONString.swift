/// The one JSON string writer of Lockstep (Vault request bodies, kubectl's stdin, backup
/// payload lines), so every module escapes the same way: `"` and `\` escaped, `\n` `\r`
/// `\t`, other control characters as `\u00XX`, every other byte (UTF-8) as it is. Runs of
/// bytes that need no escape are appended in one call.
public enum JSONString {
  public static func write(_ bytes: UnsafeRawBufferPointer, to sink: inout some ByteAppender) {
    let hex: StaticString = "0123456789abcdef"
    sink.append(UInt8(ascii: "\""))
    var start = 0
    for (index, byte) in bytes.enumerated()
    where byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
      if index > start { sink.append(UnsafeRawBufferPointer(rebasing: bytes[start..<index])) }
      start = index + 1
      sink.append(UInt8(ascii: "\\"))
      switch byte {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"): sink.append(byte)
      case 0x0A: sink.append(UInt8(ascii: "n"))
      case 0x0D: sink.append(UInt8(ascii: "r"))
      case 0x09: sink.append(UInt8(ascii: "t"))
      default:
        for byte in "u00".utf8 { sink.append(byte) }
        sink.append(hex.utf8Start[Int(byte >> 4)])
        sink.append(hex.utf8Start[Int(byte & 0x0F)])
      }
    }
    if bytes.count > start {
      sink.append(UnsafeRawBufferPointer(rebasing: bytes[start..<bytes.count]))
    }
    sink.append(UInt8(ascii: "\""))
  }

  public static func write(_ text: String, to sink: inout some ByteAppender) {
    var copy = text
    copy.withUTF8 { write(UnsafeRawBufferPointer($0), to: &sink) }
  }
}
