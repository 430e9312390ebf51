import LockstepCore

/// Removes anything password-like from text that came from libpq or the server before it
/// becomes part of an error sentence.
///
/// libpq's messages name the host and user but not the password, and server messages
/// rarely quote statements; this is the belt to those braces, because a message can echo a
/// malformed conninfo or a fragment of SQL.
enum PostgresScrubber {
  static func scrub(_ text: String, secrets: [SecretBytes]) -> String {
    var bytes = Array(text.utf8)
    for secret in secrets where secret.count >= 4 {
      secret.withUnsafeBytes { needle in bytes = replace(Array(needle), in: bytes) }
    }
    var result = String(decoding: bytes, as: UTF8.self)
    SecretBytes.wipe(&bytes)
    result = Redaction.url(Redaction.conninfo(result))
    for marker in ["SCRAM-SHA-256$", "md5"] { result = hideVerifiers(marker, in: result) }
    return result
  }

  private static func replace(_ needle: [UInt8], in haystack: [UInt8]) -> [UInt8] {
    guard haystack.count >= needle.count else { return haystack }
    var output: [UInt8] = []
    var index = 0
    while index < haystack.count {
      if index + needle.count <= haystack.count,
        haystack[index..<(index + needle.count)].elementsEqual(needle)
      {
        output += Array("***".utf8)
        index += needle.count
      } else {
        output.append(haystack[index])
        index += 1
      }
    }
    return output
  }

  /// Replaces `SCRAM-SHA-256$…` and `md5` + 32 hex digits with `***`.
  private static func hideVerifiers(_ marker: String, in text: String) -> String {
    var result = ""
    var rest = Substring(text)
    while let range = rest.range(of: marker) {
      let tail = rest[range.upperBound...]
      let end = tail.firstIndex(where: { $0 == " " || $0 == "'" || $0 == "\"" || $0 == "\n" })
      let candidate = tail[..<(end ?? tail.endIndex)]
      let isVerifier =
        marker != "md5"
        || (candidate.count == 32 && candidate.allSatisfy(\.isHexDigit))
      result += rest[..<range.lowerBound]
      if isVerifier {
        result += "***"
        rest = tail[(end ?? tail.endIndex)...]
      } else {
        result += marker
        rest = tail
      }
    }
    return result + rest
  }
}
