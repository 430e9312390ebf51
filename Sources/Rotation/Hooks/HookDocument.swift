import LockstepCore

/// The JSON document a hook reads on its stdin, rendered straight into a `SecretBytes` (two
/// passes: measure, then write into the final buffer), so the values never sit in a
/// `String` or a growable buffer on the way. Fields: docs/rotation.md, "Hooks".
public struct HookInvocation: Sendable {
  /// What the hook is asked to do: `apply` (make the provider accept the new values; under
  /// `strategy: single` also refuse the old ones) or `confirm` (a person gave the value).
  public enum Action: String, Sendable { case apply, confirm }

  public var action: Action
  public var rotationID: String
  /// `mount/path` of the live secret, for the hook's own logs.
  public var secretPath: String
  public var strategy: RotationPolicy.Strategy
  /// 1 on the first call; more when `resume` calls the hook again with the same values.
  public var attempt: Int
  /// True when this call repeats one that may have run (a resumed rotation): the hook must
  /// be idempotent, and should treat "already set to this value" as success.
  public var resumed: Bool
  public var newValues: [String: SecretBytes]
  /// Only filled when the policy says `send_old: true`.
  public var oldValues: [String: SecretBytes]
  public var context: [String: SecretBytes]

  public init(
    action: Action = .apply, rotationID: String, secretPath: String,
    strategy: RotationPolicy.Strategy = .single, attempt: Int = 1, resumed: Bool = false,
    newValues: [String: SecretBytes], oldValues: [String: SecretBytes] = [:],
    context: [String: SecretBytes] = [:]
  ) {
    self.action = action
    self.rotationID = rotationID
    self.secretPath = secretPath
    self.strategy = strategy
    self.attempt = attempt
    self.resumed = resumed
    self.newValues = newValues
    self.oldValues = oldValues
    self.context = context
  }

  /// Every value the document carries, for checking that nothing the hook prints echoes one.
  var allValues: [SecretBytes] {
    Array(newValues.values) + Array(oldValues.values) + Array(context.values)
  }

  /// The document, or the name of a key whose value is not UTF-8 (a JSON string cannot
  /// carry it unchanged).
  func render(hook: String) -> Result<SecretBytes, HookError> {
    for (key, value) in newValues.merging(oldValues, uniquingKeysWith: { a, _ in a })
      .merging(context, uniquingKeysWith: { a, _ in a }) where !Self.isUTF8(value)
    {
      return .failure(.notUTF8(hook: hook, key: key))
    }
    var counter = Counter()
    write(hook: hook, to: &counter)
    return .success(
      SecretBytes(count: counter.count) { buffer in
        var writer = FixedBufferAppender(buffer: buffer)
        write(hook: hook, to: &writer)
      })
  }

  private func write(hook: String, to sink: inout some ByteAppender) {
    func raw(_ text: String) { for byte in text.utf8 { sink.append(byte) } }
    raw("{\"lockstep_hook\":1,\"action\":")
    JSONString.write(action.rawValue, to: &sink)
    raw(",\"hook\":")
    JSONString.write(hook, to: &sink)
    raw(",\"rotation_id\":")
    JSONString.write(rotationID, to: &sink)
    raw(",\"secret\":")
    JSONString.write(secretPath, to: &sink)
    raw(",\"strategy\":")
    JSONString.write(strategy.rawValue, to: &sink)
    raw(",\"attempt\":\(attempt),\"resumed\":\(resumed),\"keys\":{")
    for (index, key) in newValues.keys.sorted().enumerated() {
      if index > 0 { raw(",") }
      JSONString.write(key, to: &sink)
      raw(":{\"new\":")
      newValues[key]!.withUnsafeBytes { JSONString.write($0, to: &sink) }
      if let old = oldValues[key] {
        raw(",\"old\":")
        old.withUnsafeBytes { JSONString.write($0, to: &sink) }
      }
      raw("}")
    }
    raw("},\"context\":{")
    for (index, key) in context.keys.sorted().enumerated() {
      if index > 0 { raw(",") }
      JSONString.write(key, to: &sink)
      raw(":")
      context[key]!.withUnsafeBytes { JSONString.write($0, to: &sink) }
    }
    raw("}}\n")
  }

  static func isUTF8(_ secret: SecretBytes) -> Bool {
    secret.withUnsafeBytes { raw in
      !transcode(raw.makeIterator(), from: UTF8.self, to: UTF32.self, stoppingOnError: true) { _ in
      }
    }
  }

  private struct Counter: ByteAppender {
    var count = 0
    mutating func append(_ byte: UInt8) { count += 1 }
    mutating func append(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
  }
}
