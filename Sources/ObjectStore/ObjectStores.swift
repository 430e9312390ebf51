import Foundation
import HTTP

/// Picks the client for a location from the environment's configuration.
public enum ObjectStores {
  public static func client(
    for location: ObjectLocation,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> any ObjectStore {
    switch location.scheme {
    case .s3:
      S3Client(
        bucket: location.bucket, configuration: try S3Configuration.fromEnvironment(environment))
    case .gs:
      GCSClient(
        bucket: location.bucket, configuration: try GCSConfiguration.fromEnvironment(environment))
    }
  }

  /// The connections of an S3 or GCS client: 10 s to connect, 300 s per request (a backup
  /// object can be large), the configuration's CA bundle.
  static func pool(connections: Int, caFile: String?) -> HTTPClientPool {
    HTTPClientPool(
      size: connections,
      settings: HTTPClient.Settings(
        connectTimeout: .seconds(10), timeout: .seconds(300), caFile: caFile))
  }
}
