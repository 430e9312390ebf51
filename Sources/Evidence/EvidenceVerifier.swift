import Crypto
import Foundation
import LockstepCore

/// Checks an evidence log: chain, sequence, seal and signature.
public enum EvidenceVerifier {
  public struct Report: Sendable, Equatable {
    public var records: Int
    public var publicKey: String
    public var firstTime: String?
    public var lastTime: String?
  }

  /// Why a log does not verify; `description` names the line.
  public struct Failure: LockstepError, Equatable {
    public let description: String
    public var exitStatus: ExitStatus { .mismatch }
  }

  /// Verifies the log at `path`. With `expectedKey` (hex), the seal must be by that key;
  /// without it the seal's own key is reported, which proves integrity but not authorship.
  public static func verify(path: String, expectedKey: String? = nil) throws -> Report {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw UserError("cannot read the evidence file \(path)")
    }
    return try verify(data: data, name: path, expectedKey: expectedKey)
  }

  public static func verify(data: Data, name: String, expectedKey: String?) throws(Failure)
    -> Report
  {
    let lines = lines(of: data)
    guard !lines.isEmpty else { throw Failure(description: "\(name) holds no evidence records") }
    var previous = EvidenceLog.genesis
    var firstTime: String?
    var lastTime: String?
    for (index, line) in lines.enumerated() {
      let number = index + 1
      guard let record = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
      else {
        throw Failure(description: "\(name):\(number): the record is not a JSON object")
      }
      guard record["seq"] as? Int == number else {
        throw Failure(
          description:
            "\(name):\(number): sequence number \(record["seq"] ?? "none") where \(number) was expected (a record was removed, inserted or reordered)"
        )
      }
      guard record["prev"] as? String == previous else {
        throw Failure(
          description:
            "\(name):\(number): the hash chain is broken (the record before it was changed, removed or reordered)"
        )
      }
      let time = record["time"] as? String
      if firstTime == nil { firstTime = time }
      lastTime = time
      if record["step"] as? String == "seal" {
        guard number == lines.count else {
          throw Failure(description: "\(name):\(number + 1): records follow the seal")
        }
        guard let keyHex = record["public_key"] as? String, let key = Hex.decode(keyHex),
          let signatureHex = record["signature"] as? String,
          let signature = Hex.decode(signatureHex)
        else { throw Failure(description: "\(name):\(number): the seal has no key or signature") }
        let message = EvidenceLog.sealMessage(previous: previous, sequence: number)
        guard Ed25519.isValidSignature(signature, for: message, publicKey: key) else {
          throw Failure(description: "\(name):\(number): the seal's signature is not valid")
        }
        if let expectedKey, expectedKey.lowercased() != keyHex.lowercased() {
          throw Failure(
            description:
              "\(name):\(number): sealed by key \(keyHex), not the expected \(expectedKey)")
        }
        return Report(
          records: lines.count, publicKey: keyHex, firstTime: firstTime, lastTime: lastTime)
      }
      previous = Hex.encode(SHA256.hash(line))
    }
    throw Failure(
      description:
        "\(name) is not sealed (the rotation did not finish, or its last records were removed)")
  }

  /// The log's lines as exact bytes, without their newlines.
  static func lines(of data: Data) -> [[UInt8]] {
    Array(data).split(separator: 0x0A, omittingEmptySubsequences: true).map(Array.init)
  }

  /// Every record, parsed, for reports.
  public static func records(path: String) throws -> [[String: Any]] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw UserError("cannot read the evidence file \(path)")
    }
    return lines(of: data).compactMap {
      try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any]
    }
  }
}
