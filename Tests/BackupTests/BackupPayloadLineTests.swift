import Foundation
import LockstepCore
import Testing

@testable import Backup

/// The hand-written payload lines must say what JSONEncoder said: the same bytes for
/// ordinary records, and the same decoded record for any input.
@Suite struct BackupPayloadLineTests {
  static func encoderLine(_ secret: BackupPayload.Secret) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let line = BackupPayload.SecretLine(
      mount: secret.mount, path: secret.path, kvVersion: secret.kvVersion,
      version: secret.version, createdTime: secret.createdTime,
      customMetadata: secret.customMetadata.isEmpty ? nil : secret.customMetadata,
      state: secret.state, size: secret.data?.count ?? 0)
    return String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
  }

  static func handLine(_ secret: BackupPayload.Secret) -> String {
    let buffer = SecretBuffer()
    BackupPayload.writeLine(secret, to: buffer)
    return buffer.takeSecret().unsafeUTF8String()!
  }

  static func secret(
    path: String, metadata: [String: String] = [:], version: Int? = 3, created: String? = nil,
    state: BackupPayload.State = .live
  ) -> BackupPayload.Secret {
    BackupPayload.Secret(
      mount: "secret/", path: path, kvVersion: version == nil ? 1 : 2, version: version,
      createdTime: created, customMetadata: metadata, state: state,
      data: SecretBytes(utf8: "{\"K\":\"v\"}"))
  }

  @Test func ordinaryRecordsAreByteIdenticalToJSONEncoder() throws {
    for secret in [
      Self.secret(path: "aura/production"),
      Self.secret(path: "a/b/c", version: nil),
      Self.secret(
        path: "aura/x", metadata: ["owner": "sec", "a": "1"], created: "2026-11-27T01:02:03Z",
        state: .deleted),
      Self.secret(path: "ünï/cödé/日本 \"quoted\" back\\slash/x", state: .destroyed),
    ] {
      #expect(Self.handLine(secret) == (try Self.encoderLine(secret)))
    }
  }

  @Test func anyPathDecodesToTheSameRecord() throws {
    let decoder = JSONDecoder()
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<300 {
      let scalars = (0..<Int.random(in: 0...24, using: &generator)).map { _ in
        Character(Unicode.Scalar(UInt8.random(in: 0...0x7F, using: &generator)))
      }
      let path = String(scalars) + "é\u{2028}"
      let secret = Self.secret(path: path, metadata: [path: path])
      let hand = try decoder.decode(
        BackupPayload.SecretLine.self, from: Data(Self.handLine(secret).utf8))
      let reference = try decoder.decode(
        BackupPayload.SecretLine.self, from: Data(try Self.encoderLine(secret).utf8))
      #expect(hand.path == path && hand.path == reference.path)
      #expect(hand.customMetadata == reference.customMetadata)
      #expect(hand.version == reference.version && hand.size == reference.size)
    }
  }

  @Test func theManifestLineIsWhatJSONEncoderWrote() throws {
    let manifest = BackupPayload.Manifest(
      paths: 2, versions: 3, bytes: 42, sha256: ["secret/b": "00ff", "secret/a\"q": "abcd"])
    let buffer = SecretBuffer()
    BackupPayload.writeLine(manifest, to: buffer)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let expected = String(decoding: try encoder.encode(manifest), as: UTF8.self) + "\n"
    #expect(buffer.takeSecret().unsafeUTF8String() == expected)
  }
}
