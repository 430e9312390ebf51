import Foundation

/// The one way a command prints a JSON result on stdout: an `Encodable` value, keys sorted,
/// `/` not escaped. `pretty` (the default) for reports; `pretty: false` for the one-line
/// results that scripts read line by line (`rotate --json`, `vault walk --json`).
enum JSONOutput {
  static func print(_ value: some Encodable, pretty: Bool = true) throws {
    Terminal.out(try text(value, pretty: pretty))
  }

  static func text(_ value: some Encodable, pretty: Bool = true) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    if pretty { encoder.outputFormatting.insert(.prettyPrinted) }
    return String(decoding: try encoder.encode(value), as: UTF8.self)
  }
}
