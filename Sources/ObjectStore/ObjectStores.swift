import Foundation
import LockstepCore

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
}
