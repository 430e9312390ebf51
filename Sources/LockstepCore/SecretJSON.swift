/// The one writer of JSON that may hold secret values (Vault request bodies, kubectl's
/// stdin, Transit calls), rendered straight into a `SecretBytes`.
///
/// Foundation's encoders would copy each value into `String`s and growable buffers that
/// cannot be wiped. Rendering in two passes (measure, then write into the final zeroed-on-
/// release buffer) leaves the only copy of the document where it belongs: the request
/// body or the child's stdin. Strings are escaped by `JSONString`.
public enum SecretJSON {
  case object([(String, SecretJSON)])
  case array([SecretJSON])
  case string(String)
  case int(Int)
  case bool(Bool)
  case null
  /// A secret written as a JSON string (it must be UTF-8).
  case secretString(SecretBytes)
  /// A secret written as a base64 JSON string (a Kubernetes Secret's `data`, Transit).
  case secretBase64(SecretBytes)
  /// A value that is already JSON text, written as it is (a KV value read as a number,
  /// bool, array or object, kept exactly as Vault sent it: `1e999` stays `1e999`).
  case secretJSON(SecretBytes)

  /// The document in a buffer of exactly its size.
  public func render() -> SecretBytes {
    var counter = ByteCounter()
    write(to: &counter)
    return SecretBytes(count: counter.count) { buffer in
      var writer = FixedBufferAppender(buffer: buffer)
      write(to: &writer)
    }
  }

  /// The standard, padded base64 text of `secret` (as the API holds Secret `data`).
  public static func base64Text(_ secret: SecretBytes) -> SecretBytes {
    var counter = ByteCounter()
    secret.withUnsafeBytes { ByteEncoder.writeBase64($0, to: &counter) }
    return SecretBytes(count: counter.count) { buffer in
      var writer = FixedBufferAppender(buffer: buffer)
      secret.withUnsafeBytes { ByteEncoder.writeBase64($0, to: &writer) }
    }
  }

  /// Whether `secret` can be written as a JSON string without changing its bytes.
  public static func isUTF8(_ secret: SecretBytes) -> Bool {
    secret.withUnsafeBytes { raw in
      !transcode(raw.makeIterator(), from: UTF8.self, to: UTF32.self, stoppingOnError: true) { _ in
      }
    }
  }

  /// Appends the document to `sink` (a wiping buffer, a counter).
  public func write(to sink: inout some ByteAppender) {
    switch self {
    case .object(let members):
      sink.append(UInt8(ascii: "{"))
      for (index, member) in members.enumerated() {
        if index > 0 { sink.append(UInt8(ascii: ",")) }
        JSONString.write(member.0, to: &sink)
        sink.append(UInt8(ascii: ":"))
        member.1.write(to: &sink)
      }
      sink.append(UInt8(ascii: "}"))
    case .array(let elements):
      sink.append(UInt8(ascii: "["))
      for (index, element) in elements.enumerated() {
        if index > 0 { sink.append(UInt8(ascii: ",")) }
        element.write(to: &sink)
      }
      sink.append(UInt8(ascii: "]"))
    case .string(let text):
      JSONString.write(text, to: &sink)
    case .int(let number):
      for byte in String(number).utf8 { sink.append(byte) }
    case .bool(let value):
      for byte in (value ? "true" : "false").utf8 { sink.append(byte) }
    case .null:
      for byte in "null".utf8 { sink.append(byte) }
    case .secretString(let secret):
      secret.withUnsafeBytes { JSONString.write($0, to: &sink) }
    case .secretBase64(let secret):
      sink.append(UInt8(ascii: "\""))
      secret.withUnsafeBytes { ByteEncoder.writeBase64($0, to: &sink) }
      sink.append(UInt8(ascii: "\""))
    case .secretJSON(let text):
      text.withUnsafeBytes { sink.append($0) }
    }
  }
}

private struct ByteCounter: ByteAppender {
  var count = 0
  mutating func append(_ byte: UInt8) { count += 1 }
  mutating func append(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
}
