/// The parser a rendered `.env` file must be read back by, byte for byte.
///
/// Each case's quoting rules, and the values it must refuse, are in docs/env.md with the
/// parser source they were taken from.
public enum DotenvDialect: String, Sendable, CaseIterable {
  /// Read back exactly by both python-dotenv 1.2 (with interpolation on, its default) and
  /// POSIX sh (`set -a; . ./.env`): the intersection, and the default.
  case portable
  /// POSIX sh only: single quotes hold anything but NUL.
  case sh
  /// docker compose's `env_file`/`.env` parser (compose-go).
  case compose
  /// python-dotenv 1.2 alone.
  case pythonDotenv = "python-dotenv"
  /// node's `dotenv` package (16.x/17.x), without dotenv-expand.
  case node
  /// `kubectl create secret generic --from-env-file`: `NAME=` then the rest of the line,
  /// taken as is (no quotes, no escapes), so only single-line values can be written.
  case kubectl
}

/// Why a value cannot be written in a dialect. It never carries the value.
public enum RenderRefusal: Error, Sendable, Equatable, CustomStringConvertible {
  case containsNUL
  case notUTF8
  /// python-dotenv expands `${NAME}` and `${NAME:-default}` in every kind of value and has
  /// no escape for it.
  case pythonInterpolation
  case carriageReturn
  /// kubectl's env files are one binding a line, with no quoting.
  case lineBreak
  /// A `\` right before a closing quote escapes it for python-dotenv (portable only).
  case trailingBackslash
  /// No quoting of this dialect holds this mix of quotes, `$`, backticks and backslashes.
  case noQuoting

  public var description: String {
    switch self {
    case .containsNUL: return "contains a NUL byte, which no environment variable can hold"
    case .notUTF8: return "is not valid UTF-8"
    case .pythonInterpolation:
      return "contains ${…}, which python-dotenv expands and cannot escape"
    case .carriageReturn: return "contains a carriage return, which this dialect cannot keep"
    case .lineBreak:
      return
        "spans several lines, which kubectl's --from-env-file cannot hold (create that key with --from-file)"
    case .trailingBackslash:
      return
        "ends with a backslash, which python-dotenv reads as escaping the closing quote (and sh, unquoted, as joining the next line)"
    case .noQuoting:
      return "mixes quotes, '$', backticks or backslashes in a way this dialect cannot quote"
    }
  }
}
