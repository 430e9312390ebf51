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
}
