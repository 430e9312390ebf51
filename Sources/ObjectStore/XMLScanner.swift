/// Pulls element texts out of S3's small, flat XML answers (ListObjectsV2, errors).
///
/// S3 responses have no attributes on the elements read here, no CDATA and no nesting of
/// an element inside itself, so a scanner is enough and keeps libxml2 out of the binary.
struct XMLScanner {
  let text: String

  /// The texts of every `<tag>…</tag>`, entities decoded.
  func values(_ tag: String) -> [String] {
    blocks(tag).map(Self.decodeEntities)
  }

  func value(_ tag: String) -> String? { values(tag).first }

  /// The raw inner XML of every `<tag>…</tag>`.
  func blocks(_ tag: String) -> [String] {
    var result: [String] = []
    let open = "<\(tag)>"
    let close = "</\(tag)>"
    var rest = text[...]
    while let start = rest.range(of: open) {
      let after = rest[start.upperBound...]
      guard let end = after.range(of: close) else { break }
      result.append(String(after[..<end.lowerBound]))
      rest = after[end.upperBound...]
    }
    return result
  }

  static func decodeEntities(_ text: String) -> String {
    guard text.contains("&") else { return text }
    var out = ""
    var rest = text[...]
    while let amp = rest.firstIndex(of: "&") {
      out += rest[..<amp]
      guard let semi = rest[amp...].firstIndex(of: ";") else {
        out += rest[amp...]
        return out
      }
      let name = rest[rest.index(after: amp)..<semi]
      switch name {
      case "amp": out += "&"
      case "lt": out += "<"
      case "gt": out += ">"
      case "quot": out += "\""
      case "apos": out += "'"
      default:
        let scalar: UInt32? =
          name.hasPrefix("#x")
          ? UInt32(name.dropFirst(2), radix: 16)
          : name.hasPrefix("#") ? UInt32(name.dropFirst()) : nil
        if let scalar, let character = Unicode.Scalar(scalar) {
          out.unicodeScalars.append(character)
        } else {
          out += rest[amp...semi]
        }
      }
      rest = rest[rest.index(after: semi)...]
    }
    return out + rest
  }
}
