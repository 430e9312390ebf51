/// Text that came from outside (a server's error message, a file name from a listing, a
/// key from a record) is escaped before it reaches a terminal or a CI log, so it cannot
/// paint, move the cursor, rewrite earlier lines or fake a line of Lockstep's own output.
///
/// Escaped: C0 controls (including CR and, unless kept, LF and TAB), DEL, C1 controls
/// (U+0080–U+009F, which some terminals read as CSI) and the bidirectional overrides and
/// isolates (U+202A–U+202E, U+2066–U+2069, "Trojan Source"). Each becomes `\u{XX}`-style
/// text, `\n`, `\r`, `\t` or `\e`, so the reader still sees that something was there.
public enum UntrustedText {
  public static func escaped(_ text: String, keepingNewlines: Bool = false) -> String {
    guard text.unicodeScalars.contains(where: { needsEscape($0, keepingNewlines) }) else {
      return text
    }
    var result = ""
    result.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 8)
    for scalar in text.unicodeScalars {
      guard needsEscape(scalar, keepingNewlines) else {
        result.unicodeScalars.append(scalar)
        continue
      }
      switch scalar {
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      case "\u{1B}": result += "\\e"
      default:
        let hex = String(scalar.value, radix: 16, uppercase: true)
        result += "\\u{" + String(repeating: "0", count: max(0, 2 - hex.count)) + hex + "}"
      }
    }
    return result
  }

  static func needsEscape(_ scalar: Unicode.Scalar, _ keepingNewlines: Bool) -> Bool {
    switch scalar.value {
    case 0x0A, 0x09: return !keepingNewlines
    case 0x00...0x1F, 0x7F...0x9F: return true
    case 0x202A...0x202E, 0x2066...0x2069: return true
    default: return false
    }
  }
}
