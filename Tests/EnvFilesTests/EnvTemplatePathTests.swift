import EnvFiles
import Foundation
import LockstepCore
import TestSupport
import Testing
import Vault

/// A template lives in an application's repository: it may name KV secrets, never another
/// Vault endpoint (`auth/token/lookup-self` would render the operator's token), with or
/// without dot-segments (issue 10).
@Suite struct EnvTemplatePathTests {
  @Test func templatesReadOnlyKVPaths() async throws {
    let vault = try await VaultTesting.shared()
    let mount = try vault.freshMount(version: 1)
    try vault.call("POST", "\(mount)/app", body: #"{"K":"v"}"#)
    let client = VaultClient(
      configuration: VaultConfiguration(
        address: vault.address, token: SecretBytes(utf8: VaultTesting.rootToken),
        retryDeadline: .seconds(3), parallelism: 2))
    // Dot-segments are a template syntax error (65); a non-KV mount is refused by the
    // client (1, no secrets engine there); an encoded dot-segment stays a literal name and reads nothing (1).
    for (reference, exit) in [
      ("\(mount)/../auth/token/lookup-self:id", ExitStatus.dataError),
      ("\(mount)/./app:K", .dataError), ("\(mount)/app/..:K", .dataError),
      ("\(mount)//app:K", .dataError), ("/\(mount)/app:K", .dataError),
      ("auth/token/lookup-self:id", .failure),
      ("\(mount)/%2e%2e/auth/token/lookup-self:id", .failure),
    ] {
      var refusal: (any Error)?
      do {
        let template = try EnvTemplate(parsing: "TOKEN={{ \(reference) }}\n")
        let output = try await EnvRender.render(
          path: nil, template: template, dialect: .portable,
          source: VaultSecretSource(client: client))
        let text = output.content.unsafeUTF8String() ?? ""
        #expect(!text.contains("root"), "\(reference) rendered the token")
      } catch { refusal = error }
      #expect(refusal != nil, "\(reference) was not refused")
      #expect(
        (refusal as? any LockstepError)?.exitStatus == exit,
        "\(reference): \(String(describing: refusal))")
    }
    let good = try EnvTemplate(parsing: "K={{ \(mount)/app:K }}\n")
    let output = try await EnvRender.render(
      path: nil, template: good, dialect: .portable, source: VaultSecretSource(client: client))
    #expect(output.content.unsafeUTF8String() == "K=v\n")
  }
}
