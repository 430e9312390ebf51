/// Where encoded bytes (JSON text, base64) are written: a wiping buffer, a byte counter, a
/// fixed-size buffer. The encoders write through it so that a secret goes from its
/// `SecretBytes` into its final, wipeable home without an intermediate `String` or `Data`.
public protocol ByteAppender {
  mutating func append(_ byte: UInt8)
  mutating func append(_ bytes: UnsafeRawBufferPointer)
}
