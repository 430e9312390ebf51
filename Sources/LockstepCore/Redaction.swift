/// Helpers that keep credentials out of messages.
public enum Redaction {
  /// A URL with any `user:password@` userinfo replaced by `***@`, for messages that must
  /// name a server (`redis://***@127.0.0.1:6379/0`).
  public static func url(_ string: String) -> String {
    guard let schemeEnd = string.range(of: "://") else { return string }
    let rest = string[schemeEnd.upperBound...]
    let authorityEnd =
      rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
    guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return string }
    return String(string[..<schemeEnd.upperBound]) + "***" + String(rest[at...])
  }

  /// A libpq conninfo string with `password=…` removed.
  public static func conninfo(_ string: String) -> String {
    var words: [String] = []
    var skipping = false
    for word in string.split(separator: " ", omittingEmptySubsequences: true) {
      if word.hasPrefix("password=") {
        skipping = word.hasPrefix("password='") && !(word.count > 10 && word.hasSuffix("'"))
        words.append("password=***")
        continue
      }
      if skipping {
        if word.hasSuffix("'") { skipping = false }
        continue
      }
      words.append(String(word))
    }
    return words.joined(separator: " ")
  }
}
