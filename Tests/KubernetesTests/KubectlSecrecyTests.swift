import Foundation
import Kubernetes
import LockstepCore
import TestSupport
import Testing

@Suite("No secret value reaches kubectl's argv or environment")
struct KubectlSecrecyTests {
  @Test func everyInvocationIsFreeOfSecretValues() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.seedDeployment()
    let sessionSecret = SecretBytes(utf8: "SESSION-\(UUID().uuidString)")
    let ironPassword = SecretBytes(utf8: "IRON-\(UUID().uuidString)")
    let dbPassword = SecretBytes(utf8: "DB-\(UUID().uuidString)")
    // Create (patch answers NotFound, then create), merge, replace; env mode; secret mode.
    try await fixture.client.applySecret(
      "aura-secrets", data: ["SESSION_SECRET": sessionSecret, "DB_PASSWORD": dbPassword])
    try await fixture.client.applySecret("aura-secrets", data: ["IRON": ironPassword])
    try await fixture.client.applySecret(
      "aura-secrets", data: ["SESSION_SECRET": sessionSecret, "IRON": ironPassword],
      replaceAllKeys: true)
    try await fixture.client.setEnv(
      deployment: "aura-api", container: "api",
      values: ["SESSION_SECRET": sessionSecret, "IRON_SESSION_PASSWORD": ironPassword])
    try await fixture.client.setEnvFromSecret(
      deployment: "aura-api", container: "worker",
      references: [
        "SESSION_SECRET": SecretKeyReference(secret: "aura-secrets", key: "SESSION_SECRET")
      ])
    try await fixture.client.rolloutRestart("aura-api")
    try await fixture.client.rolloutStatus("aura-api", timeout: .seconds(20))

    // The values did arrive (through stdin).
    let stored = try #require(
      try fixture.standIn.secretData(namespace: fixture.namespace, name: "aura-secrets"))
    #expect(stored["IRON"] == ironPassword.unsafeUTF8String())
    #expect(stored["SESSION_SECRET"] == sessionSecret.unsafeUTF8String())

    let invocations = fixture.invocations.all
    #expect(invocations.count >= 8)
    #expect(invocations.contains { $0.stdinByteCount > 0 })
    let forms = [sessionSecret, ironPassword, dbPassword].flatMap { secret -> [String] in
      let plain = secret.unsafeUTF8String()!
      return [plain, Data(plain.utf8).base64EncodedString()]
    }
    for invocation in invocations {
      let visible =
        ([invocation.executable] + invocation.arguments)
        + invocation.environment.flatMap { [$0.key, $0.value] }
      for form in forms {
        #expect(!visible.contains { $0.contains(form) }, "a secret reached \(invocation.arguments)")
      }
      #expect(
        Set(invocation.environment.keys).isSubset(
          of: KubectlClient.Configuration.inheritedVariables))
    }
    // And the server saw none in a request line (query strings).
    for line in try fixture.standIn.requestLines() {
      for form in forms { #expect(!line.contains(form)) }
    }
  }

  @Test func theDefaultEnvironmentIsAnAllowList() {
    let environment = KubectlClient.Configuration.inheriting([
      "PATH": "/usr/bin", "HOME": "/root", "KUBECONFIG": "/k", "VAULT_TOKEN": "s.token",
      "PGPASSWORD": "pw", "AWS_SECRET_ACCESS_KEY": "aws", "REDIS_URL": "redis://:pw@h",
    ])
    #expect(environment == ["PATH": "/usr/bin", "HOME": "/root", "KUBECONFIG": "/k"])
  }

  @Test func messagesOfWritesThatCarrySecretsAreWithheld() async throws {
    let fixture = try await KubeFixture.make()
    let value = "VALUE-\(UUID().uuidString)"
    // The API refuses the key name (422); kubectl's message is not passed on, as it could
    // quote the object it was sent.
    do {
      try await fixture.client.applySecret(
        "s", data: ["not a key": SecretBytes(utf8: value)], replaceAllKeys: true)
      Issue.record("expected a failure")
    } catch {
      #expect(error == .failed(action: "create secret \"s\"", detail: nil))
      #expect(!error.description.contains(value))
      #expect(error.description.contains("withheld"))
    }
  }
}
