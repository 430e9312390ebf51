import Crypto
import Foundation
import LockstepCore

/// Checks an evidence log: chain, sequence, seal and signature.
public enum EvidenceVerifier {
  public struct Report: Sendable, Equatable {
    public var records: Int
    /// Hex Ed25519 key of the seal; empty when the log is not sealed.
    public var publicKey: String
    public var firstTime: String?
    public var lastTime: String?
    /// False for a log whose chain is intact but that has no seal yet (a rotation in
    /// progress, or one that was interrupted); only `allowUnsealed` returns such a report.
    public var sealed: Bool = true
    /// 2 when the signature covers the seal's own time, actor and key; 1 for older files.
    public var sealFormat: Int = 2
  }

  /// Why a log does not verify; `description` names the line.
  public struct Failure: LockstepError, Equatable {
    public let description: String
    public var exitStatus: ExitStatus { .mismatch }

    public init(description: String) { self.description = description }
  }

  /// Verifies the log at `path`. With `expectedKey` (hex), the seal must be by that key;
  /// without it the seal's own key is reported, which proves integrity but not authorship.
  public static func verify(path: String, expectedKey: String? = nil, allowUnsealed: Bool = false)
    throws -> Report
  {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw UserError("cannot read the evidence file \(path)")
    }
    return try verify(
      data: data, name: path, expectedKey: expectedKey, allowUnsealed: allowUnsealed)
  }

  static let sealFields: Set<String> = [
    "step", "public_key", "signature", "actor", "seal_format", "seq", "time", "prev",
  ]

  public static func verify(
    data: Data, name: String, expectedKey: String?, allowUnsealed: Bool = false
  ) throws(Failure) -> Report {
    let lines = lines(of: data)
    guard !lines.isEmpty else { throw Failure(description: "\(name) holds no evidence records") }
    let parser = ISO8601DateFormatter()
    parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    var previous = EvidenceLog.genesis
    var firstTime: String?
    var lastTime: String?
    var lastDate: Date?
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
      guard let time = record["time"] as? String, let date = parser.date(from: time) else {
        throw Failure(description: "\(name):\(number): the record has no valid time")
      }
      if let lastDate, date < lastDate {
        throw Failure(
          description: "\(name):\(number): the time goes backwards from the record before it")
      }
      lastDate = date
      if firstTime == nil { firstTime = time }
      lastTime = time
      if record["step"] as? String == "seal" {
        guard number == lines.count else {
          throw Failure(description: "\(name):\(number + 1): records follow the seal")
        }
        let (keyHex, format) = try checkSeal(
          record, previous: previous, number: number, name: name)
        if let expectedKey, expectedKey.lowercased() != keyHex.lowercased() {
          throw Failure(
            description:
              "\(name):\(number): sealed by key \(keyHex), not the expected \(expectedKey)")
        }
        return Report(
          records: lines.count, publicKey: keyHex, firstTime: firstTime, lastTime: lastTime,
          sealed: true, sealFormat: format)
      }
      previous = Hex.encode(SHA256.hash(line))
    }
    guard allowUnsealed else {
      throw Failure(
        description:
          "\(name) is not sealed (the rotation did not finish, or its last records were removed)")
    }
    return Report(
      records: lines.count, publicKey: "", firstTime: firstTime, lastTime: lastTime,
      sealed: false)
  }

  /// The seal's own fields and signature; returns its key (hex) and format.
  private static func checkSeal(
    _ record: [String: Any], previous: String, number: Int, name: String
  ) throws(Failure) -> (String, Int) {
    guard let keyHex = record["public_key"] as? String, let key = Hex.decode(keyHex),
      let signatureHex = record["signature"] as? String,
      let signature = Hex.decode(signatureHex)
    else { throw Failure(description: "\(name):\(number): the seal has no key or signature") }
    guard Set(record.keys).isSubset(of: sealFields) else {
      throw Failure(description: "\(name):\(number): the seal holds fields no seal has")
    }
    guard let actor = record["actor"] as? [String: String],
      Set(actor.keys) == ["user", "host"],
      actor.values.allSatisfy({ value in
        value.unicodeScalars.allSatisfy { !($0.properties.generalCategory == .control) }
      })
    else { throw Failure(description: "\(name):\(number): the seal's actor is not valid") }
    let format = record["seal_format"] as? Int ?? 1
    let message: [UInt8]
    switch format {
    case 1 where record["seal_format"] == nil:
      message = EvidenceLog.sealMessage(previous: previous, sequence: number)
    case 2:
      message = EvidenceLog.sealMessage(
        previous: previous, sequence: number, time: record["time"] as? String ?? "",
        publicKey: keyHex, actor: actor)
    default:
      throw Failure(description: "\(name):\(number): the seal's format is not known")
    }
    guard Ed25519.isValidSignature(signature, for: message, publicKey: key) else {
      throw Failure(description: "\(name):\(number): the seal's signature is not valid")
    }
    return (keyHex, format)
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
