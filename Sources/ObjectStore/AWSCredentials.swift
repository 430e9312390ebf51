import Foundation
import LockstepCore

/// One AWS access key pair, with the session token and expiry of temporary credentials.
public struct AWSCredentials: Sendable, CustomStringConvertible {
  public let accessKeyID: String
  public let secretAccessKey: SecretBytes
  public let sessionToken: SecretBytes?
  /// When temporary credentials stop working; nil for long-term keys.
  public let expiration: Date?

  public init(
    accessKeyID: String, secretAccessKey: SecretBytes, sessionToken: SecretBytes? = nil,
    expiration: Date? = nil
  ) {
    self.accessKeyID = accessKeyID
    self.secretAccessKey = secretAccessKey
    self.sessionToken = sessionToken
    self.expiration = expiration
  }

  /// Key id and expiry only; never the secret key or the session token.
  public var description: String {
    "AWSCredentials(accessKeyID: \(accessKeyID), expiration: \(expiration.map { "\($0)" } ?? "none"))"
  }
}
