import HTTP
import LockstepCore

/// Writes JSON request bodies straight into a wiping buffer, so a secret value goes from
/// its `SecretBytes` to the bytes libcurl sends without ever being a `String`.
struct JSONWriter {
  let buffer = SecretBuffer(capacity: 256)

  func string(_ value: String) {
    var copy = value
    copy.withUTF8 { escape(UnsafeRawBufferPointer($0)) }
  }

  func string(_ value: SecretBytes) {
    value.withUnsafeBytes { escape($0) }
  }

  /// A value that is already JSON text (read from Vault as a number, bool or object).
  func json(_ value: SecretBytes) { buffer.append(value) }

  func raw(_ text: StaticString) { buffer.append(text) }
  func raw(text: String) { buffer.append(text: text) }

  func key(_ name: String) {
    string(name)
    buffer.append(UInt8(ascii: ":"))
  }

  /// `{"k":v,...}` with a closure writing each value.
  func object<Element>(_ items: [Element], _ body: (Element) -> Void) {
    buffer.append(UInt8(ascii: "{"))
    for (offset, item) in items.enumerated() {
      if offset > 0 { buffer.append(UInt8(ascii: ",")) }
      body(item)
    }
    buffer.append(UInt8(ascii: "}"))
  }

  func comma() { buffer.append(UInt8(ascii: ",")) }

  func finish() -> SecretBytes { buffer.takeSecret() }

  private func escape(_ bytes: UnsafeRawBufferPointer) {
    var sink = buffer
    JSONString.write(bytes, to: &sink)
  }
}
