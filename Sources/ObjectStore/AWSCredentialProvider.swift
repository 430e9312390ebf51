import Foundation
import HTTP
import LockstepCore
import Synchronization

/// Where S3 credentials come from, resolved once in the AWS CLI's order, and the current
/// credentials, refreshed before they expire so that a long upload keeps working.
///
/// Order (the AWS CLI's, for the sources Lockstep supports):
/// 1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
/// 2. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+ `AWS_ROLE_SESSION_NAME`),
///    exchanged with STS `AssumeRoleWithWebIdentity` (how EKS gives a pod short-lived keys);
/// 3. the shared files `~/.aws/credentials` and `~/.aws/config` (`AWS_SHARED_CREDENTIALS_FILE`,
///    `AWS_CONFIG_FILE`), profile `AWS_PROFILE` else `default`; a profile may itself name
///    `role_arn` + `web_identity_token_file`.
public final class AWSCredentialProvider: Sendable {
  public enum Source: Sendable {
    case fixed(AWSCredentials, origin: String)
    case webIdentity(WebIdentity)
  }

  /// What `AssumeRoleWithWebIdentity` needs. The token file is read at every exchange:
  /// Kubernetes rotates it.
  public struct WebIdentity: Sendable {
    public var roleARN: String
    public var tokenFile: String
    public var sessionName: String
    /// STS base URL without a trailing slash.
    public var stsEndpoint: String
    public var durationSeconds: Int
    public var caFile: String?

    public init(
      roleARN: String, tokenFile: String, sessionName: String, stsEndpoint: String,
      durationSeconds: Int = 3600, caFile: String? = nil
    ) {
      self.roleARN = roleARN
      self.tokenFile = tokenFile
      self.sessionName = sessionName
      self.stsEndpoint = stsEndpoint
      self.durationSeconds = durationSeconds
      self.caFile = caFile
    }
  }

  public let source: Source
  /// Temporary credentials are replaced when less than this is left of their life.
  public let refreshMargin: Duration
  private let cached = Mutex<AWSCredentials?>(nil)
  private let exchanges = Mutex(0)

  public init(_ source: Source, refreshMargin: Duration = .seconds(300)) {
    self.source = source
    self.refreshMargin = refreshMargin
  }

  public static func fixed(_ credentials: AWSCredentials, origin: String = "configuration")
    -> AWSCredentialProvider
  {
    AWSCredentialProvider(.fixed(credentials, origin: origin))
  }

  /// Where the credentials come from, for `doctor` and error sentences.
  public var origin: String {
    switch source {
    case .fixed(_, let origin): origin
    case .webIdentity(let identity): "web identity for \(identity.roleARN)"
    }
  }

  /// How many STS exchanges this provider made (tests check caching and refresh with it).
  public var exchangeCount: Int { exchanges.withLock { $0 } }

  /// Credentials valid for at least `refreshMargin` more, from the cache when they are.
  public func current() async throws -> AWSCredentials {
    switch source {
    case .fixed(let credentials, _):
      return credentials
    case .webIdentity(let identity):
      let now = Date()
      let margin = Double(refreshMargin.components.seconds)
      if let cached = cached.withLock({ $0 }),
        let expiration = cached.expiration, expiration.timeIntervalSince(now) > margin
      {
        return cached
      }
      let fresh = try await Self.assumeRole(identity)
      exchanges.withLock { $0 += 1 }
      cached.withLock { $0 = fresh }
      return fresh
    }
  }

  /// STS `AssumeRoleWithWebIdentity`, unsigned as AWS serves it: the token is the credential.
  /// - SeeAlso: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
  static func assumeRole(_ identity: WebIdentity) async throws -> AWSCredentials {
    guard let tokenData = FileManager.default.contents(atPath: identity.tokenFile) else {
      throw ObjectStoreError.missingCredentials(
        "Cannot read the web identity token file \(identity.tokenFile) (AWS_WEB_IDENTITY_TOKEN_FILE)."
      )
    }
    var token = [UInt8](tokenData)
    while let last = token.last, last == 0x0A || last == 0x0D || last == 0x20 { token.removeLast() }
    var body = Array(
      (("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&DurationSeconds="
        + "\(identity.durationSeconds)&RoleArn=" + Percent.encode(identity.roleARN)
        + "&RoleSessionName=" + Percent.encode(identity.sessionName) + "&WebIdentityToken=")
        as String).utf8)
    token.withUnsafeBytes { PercentEncoding.write($0, to: &body) }
    SecretBytes.wipe(&token)
    let request = HTTPRequest(
      .post, identity.stsEndpoint + "/",
      headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")],
      body: .secret(SecretBytes(consuming: &body)))
    let pool = ObjectStores.pool(connections: 1, caFile: identity.caFile)
    let response: HTTPResponse
    do {
      response = try await pool.send(request)
    } catch let error as HTTPError {
      throw ObjectStoreError.unreachable(
        endpoint: Redaction.url(identity.stsEndpoint), cause: error)
    }
    let text = response.text
    let scanner = XMLScanner(text: text)
    guard response.isSuccess else {
      var detail = [scanner.value("Code"), scanner.value("Message")].compactMap { $0 }
        .joined(separator: ": ")
      while detail.hasSuffix(".") { detail.removeLast() }
      throw ObjectStoreError.credentialsRefused(
        "STS at \(Redaction.url(identity.stsEndpoint)) refused the web identity token for \(identity.roleARN) (\(detail.isEmpty ? "HTTP \(response.status)" : detail))."
      )
    }
    guard let block = scanner.blocks("Credentials").first else {
      throw ObjectStoreError.invalidResponse(
        url: Redaction.url(identity.stsEndpoint), detail: "no Credentials in the STS answer")
    }
    let credentials = XMLScanner(text: block)
    guard let keyID = credentials.value("AccessKeyId"),
      let secret = credentials.value("SecretAccessKey"),
      let session = credentials.value("SessionToken")
    else {
      throw ObjectStoreError.invalidResponse(
        url: Redaction.url(identity.stsEndpoint), detail: "incomplete STS credentials")
    }
    return AWSCredentials(
      accessKeyID: keyID, secretAccessKey: SecretBytes(utf8: secret),
      sessionToken: SecretBytes(utf8: session),
      expiration: credentials.value("Expiration").flatMap(S3Client.parseISODate))
  }
}

extension AWSCredentialProvider {
  /// The chain, resolved from `environment` and the shared files. Throws one sentence
  /// naming every source tried when none has credentials.
  public static func resolve(
    _ environment: [String: String], region: String, caFile: String?
  ) throws -> AWSCredentialProvider {
    func value(_ name: String) -> String? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      return text
    }
    // 1. Environment.
    switch (value("AWS_ACCESS_KEY_ID"), value("AWS_SECRET_ACCESS_KEY")) {
    case (let id?, let secret?):
      return .fixed(
        AWSCredentials(
          accessKeyID: id, secretAccessKey: SecretBytes(utf8: secret),
          sessionToken: value("AWS_SESSION_TOKEN").map { SecretBytes(utf8: $0) }),
        origin: "the environment (AWS_ACCESS_KEY_ID)")
    case (_?, nil):
      throw ObjectStoreError.missingCredentials(
        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not.")
    case (nil, _?):
      throw ObjectStoreError.missingCredentials(
        "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not.")
    case (nil, nil):
      break
    }
    let sts =
      value("AWS_ENDPOINT_URL_STS") ?? value("AWS_ENDPOINT_URL")
      ?? "https://sts.\(region).amazonaws.com"
    var stsEndpoint = sts
    while stsEndpoint.hasSuffix("/") { stsEndpoint.removeLast() }
    let sessionName =
      value("AWS_ROLE_SESSION_NAME") ?? "lockstep-\(Int(Date().timeIntervalSince1970))"
    // 2. Web identity.
    if let tokenFile = value("AWS_WEB_IDENTITY_TOKEN_FILE") {
      guard let role = value("AWS_ROLE_ARN") else {
        throw ObjectStoreError.missingCredentials(
          "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not.")
      }
      return AWSCredentialProvider(
        .webIdentity(
          WebIdentity(
            roleARN: role, tokenFile: tokenFile, sessionName: sessionName,
            stsEndpoint: stsEndpoint, caFile: caFile)))
    }
    // 3. Shared credentials and config files.
    let home = value("HOME") ?? NSHomeDirectory()
    let credentialsFile = value("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials"
    let configFile = value("AWS_CONFIG_FILE") ?? home + "/.aws/config"
    let explicitProfile = value("AWS_PROFILE") ?? value("AWS_DEFAULT_PROFILE")
    let profile = explicitProfile ?? "default"
    let shared = AWSSharedConfig(
      profile: profile, credentialsFile: credentialsFile, configFile: configFile)
    if let id = shared.settings["aws_access_key_id"],
      let secret = shared.settings["aws_secret_access_key"]
    {
      return .fixed(
        AWSCredentials(
          accessKeyID: id, secretAccessKey: SecretBytes(utf8: secret),
          sessionToken: shared.settings["aws_session_token"].map { SecretBytes(utf8: $0) }),
        origin: "profile \(profile) of the shared AWS files")
    }
    if let role = shared.settings["role_arn"],
      let tokenFile = shared.settings["web_identity_token_file"]
    {
      return AWSCredentialProvider(
        .webIdentity(
          WebIdentity(
            roleARN: role, tokenFile: tokenFile,
            sessionName: shared.settings["role_session_name"] ?? sessionName,
            stsEndpoint: stsEndpoint, caFile: caFile)))
    }
    if let explicitProfile, !shared.found {
      throw ObjectStoreError.missingCredentials(
        "The AWS profile \(explicitProfile) (AWS_PROFILE) is in neither \(credentialsFile) nor \(configFile)."
      )
    }
    throw ObjectStoreError.missingCredentials(
      "No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or a profile in \(credentialsFile) (AWS_PROFILE)."
    )
  }

  /// The region of the shared config's profile, for when neither `AWS_REGION` nor
  /// `AWS_DEFAULT_REGION` is set.
  static func profileRegion(_ environment: [String: String]) -> String? {
    func value(_ name: String) -> String? {
      guard let text = environment[name], !text.isEmpty else { return nil }
      return text
    }
    let home = value("HOME") ?? NSHomeDirectory()
    let profile = value("AWS_PROFILE") ?? value("AWS_DEFAULT_PROFILE") ?? "default"
    return AWSSharedConfig(
      profile: profile, credentialsFile: nil,
      configFile: value("AWS_CONFIG_FILE") ?? home + "/.aws/config"
    ).settings["region"]
  }
}
