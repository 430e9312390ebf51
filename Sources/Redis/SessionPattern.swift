/// The rule for session key patterns: a pattern must begin with a literal prefix.
///
/// `*` is not the only pattern that matches every key: `?*`, `**`, `*?` and `[a-z]*` do
/// too, or nearly. A pattern whose first character is a wildcard (`*`, `?`, `[`) has no
/// prefix to confine it, so it is refused; deleting everything is `flushDatabase`, asked for
/// by name (`flush_database: true` in a policy). A backslash-escaped character counts as
/// literal, as in Redis' own glob.
public enum SessionPattern {
  public static func check(_ pattern: String) throws(RedisError) {
    guard !pattern.isEmpty else {
      throw .invalidArgument(reason: "The session key pattern is empty")
    }
    let bytes = Array(pattern.utf8)
    let first = bytes[0]
    let literal =
      first == UInt8(ascii: "\\") ? bytes.count > 1 : !"*?[".utf8.contains(first)
    guard literal else {
      throw .invalidArgument(
        reason:
          "The pattern '\(pattern)' matches every key: it must begin with a literal prefix such as 'sess:*'; flush the database explicitly if that is what you mean"
      )
    }
  }
}
