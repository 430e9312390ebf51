import Foundation
import LockstepCore

extension LocalService {
  /// Creates a bucket on this moto with a request signed by its IAM key (moto checks
  /// signatures, so an unsigned `curl -X PUT` is refused). boto3 comes with `moto[server]`;
  /// the key reaches it through the environment, never argv.
  public func createBucket(_ name: String) throws {
    var environment = ProcessInfo.processInfo.environment
    environment.merge(s3Environment) { _, new in new }
    let script = """
      import boto3, os, sys
      boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(Bucket=sys.argv[1])
      """
    let result = try ChildProcess.run(
      "python3", ["-c", script, name], environment: environment, timeout: .seconds(60))
    guard result.succeeded else {
      throw UserError("could not create bucket \(name) on moto: \(result.stderrText)")
    }
  }

  /// The size of moto's request log (`s3.log`, one werkzeug line per request): the offset
  /// to count later requests from.
  public var s3LogSize: Int {
    ((try? FileManager.default.attributesOfItem(atPath: directory + "/s3.log"))?[.size]
      as? Int) ?? 0
  }

  /// The request lines moto logged for `bucket` (its objects and the bucket itself) after
  /// `offset` bytes of its log, waiting until the count stops changing (werkzeug logs after
  /// it has answered).
  public func s3Requests(bucket: String, since offset: Int) async throws -> [String] {
    var previous = -1
    var lines: [String] = []
    for _ in 0..<20 {
      let log = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/s3.log"))) ?? Data()
      let text = String(decoding: log.dropFirst(offset), as: UTF8.self)
      lines = text.split(separator: "\n").map(String.init).filter {
        $0.contains(" /\(bucket)/") || $0.contains(" /\(bucket)?") || $0.contains(" /\(bucket) ")
      }
      if lines.count == previous { break }
      previous = lines.count
      try await Task.sleep(for: .milliseconds(150))
    }
    return lines
  }
}
