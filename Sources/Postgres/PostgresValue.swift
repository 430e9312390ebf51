import LockstepCore

/// A statement parameter, sent in text format (`$1`, `$2`, … cast in SQL as needed).
///
/// `.secret` keeps a password in `SecretBytes` up to the libpq call and wipes the
/// NUL-terminated copy libpq reads, so binding a secret needs no Swift `String`.
public enum PostgresValue: Sendable, Equatable, ExpressibleByStringLiteral,
  ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
  case null
  case text(String)
  case secret(SecretBytes)

  public init(stringLiteral value: String) { self = .text(value) }
  public init(integerLiteral value: Int) { self = .text(String(value)) }
  public init(booleanLiteral value: Bool) { self = .text(value ? "true" : "false") }
  public init(nilLiteral: ()) { self = .null }

  public static func int(_ value: some BinaryInteger) -> PostgresValue { .text("\(value)") }
  public static func bool(_ value: Bool) -> PostgresValue { .text(value ? "true" : "false") }
}
