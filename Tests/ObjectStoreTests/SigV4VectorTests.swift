import Crypto
import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import ObjectStore

/// Known answers from the public AWS SigV4 test suite and the S3 API reference's worked
/// examples; the data and its sources are in Tests/Vectors/aws-sigv4.json.
@Suite("SigV4 known answers")
struct SigV4VectorTests {
  struct Case: Sendable, CustomTestStringConvertible {
    let signer: SigV4Signer
    let timestamp: String
    let name: String
    let request: SigV4Signer.Request
    let canonicalRequest: String?
    let stringToSign: String?
    let signature: String
    var testDescription: String { name }
  }

  static let cases: [Case] = {
    let path = Repository.root + "/Tests/Vectors/aws-sigv4.json"
    guard let data = FileManager.default.contents(atPath: path),
      let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let suites = root["suites"] as? [[String: Any]]
    else { return [] }
    var cases: [Case] = []
    for suite in suites {
      let signer = SigV4Signer(
        accessKeyID: suite["accessKeyID"] as! String,
        secretAccessKey: SecretBytes(utf8: suite["secretAccessKey"] as! String),
        region: suite["region"] as! String, service: suite["service"] as! String)
      for item in suite["cases"] as! [[String: Any]] {
        func pairs(_ key: String) -> [(String, String)] {
          (item[key] as! [[String]]).map { ($0[0], $0[1]) }
        }
        let payload = item["payload"] as! String
        let hash = item["payloadHash"] as? String ?? Hex.encode(SHA256.hash(payload))
        cases.append(
          Case(
            signer: signer, timestamp: suite["timestamp"] as! String, name: item["name"] as! String,
            request: SigV4Signer.Request(
              method: item["method"] as! String, path: item["path"] as! String,
              query: pairs("query"), headers: pairs("headers"), payloadHash: hash),
            canonicalRequest: item["canonicalRequest"] as? String,
            stringToSign: item["stringToSign"] as? String,
            signature: item["signature"] as! String))
      }
    }
    return cases
  }()

  @Test func vectorsAreLoaded() {
    #expect(Self.cases.count == 12)
  }

  @Test(arguments: cases)
  func signatureMatches(_ vector: Case) {
    if let expected = vector.canonicalRequest {
      #expect(vector.signer.canonicalRequest(vector.request) == expected)
    }
    if let expected = vector.stringToSign {
      #expect(vector.signer.stringToSign(vector.request, timestamp: vector.timestamp) == expected)
    }
    #expect(
      vector.signer.signature(vector.request, timestamp: vector.timestamp) == vector.signature)
    let authorization = vector.signer.authorization(vector.request, timestamp: vector.timestamp)
    #expect(authorization.hasSuffix("Signature=\(vector.signature)"))
    #expect(authorization.contains("Credential=\(vector.signer.accessKeyID)/"))
  }
}
