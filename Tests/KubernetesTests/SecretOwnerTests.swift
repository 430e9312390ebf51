import Foundation
import Kubernetes
import LockstepCore
import TestSupport
import Testing

/// Secrets written by a controller: found through their owner, refreshed through the
/// owner, compared by digests only. The ESO-like controller of the stand-in reads the real
/// OpenBao.
@Suite("Secrets owned by External Secrets Operator or Vault Secrets Operator")
struct SecretOwnerTests {
  /// A keyed digest stand-in for the tests: the rotation uses HMAC-SHA-256 under a run key;
  /// here any injective function shows the comparison logic.
  static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] { bytes.map { $0 ^ 0x5A } }

  struct EsoFixture {
    let kube: KubeFixture
    let vault: VaultTesting
    let mount: String
    let store: String

    static func make() async throws -> EsoFixture {
      let kube = try await KubeFixture.make()
      let vault = try await VaultTesting.shared()
      let mount = try vault.freshMount()
      let store = "vault-\(mount)"
      try kube.standIn.configureExternalSecrets(
        store: store, address: vault.address, token: VaultTesting.rootToken, mount: mount)
      return EsoFixture(kube: kube, vault: vault, mount: mount, store: store)
    }

    func write(_ values: [String: String]) throws {
      let body = try JSONSerialization.data(withJSONObject: ["data": values])
      try vault.call("POST", "\(mount)/data/app", body: String(decoding: body, as: UTF8.self))
    }
  }

  @Test func anExternalSecretsTargetIsSyncedOnlyThroughForceSync() async throws {
    let fixture = try await EsoFixture.make()
    let kube = fixture.kube
    try fixture.write(["A": "one", "B": "two"])
    try kube.standIn.createExternalSecret(
      namespace: kube.namespace, name: "app", store: fixture.store, path: "app",
      keys: ["A", "B"], target: "app-env")
    let client = kube.client
    var owner: SecretOwner?
    for _ in 0..<50 where owner == nil {
      owner = try await client.secretOwner("app-env")
      if owner == nil { try await Task.sleep(for: .milliseconds(100)) }
    }
    let found = try #require(owner)
    #expect(
      found
        == SecretOwner(
          controller: .externalSecrets, kind: "ExternalSecret", group: "external-secrets.io",
          name: "app"))
    #expect(found.evidenceLabel == "external-secrets-operator:ExternalSecret/app")

    let new = ["A": SecretBytes(utf8: "three"), "B": SecretBytes(utf8: "two")]
    try fixture.write(["A": "three", "B": "two"])
    // Vault changed, the Secret did not: the controller has not been asked.
    try await Task.sleep(for: .milliseconds(300))
    #expect(
      try await client.keysDiffering(in: "app-env", from: new, digest: Self.digest) == ["A"])
    #expect(try await client.requestSync(found, stamp: "1764780000"))
    var differing = ["A"]
    for _ in 0..<50 where !differing.isEmpty {
      try await Task.sleep(for: .milliseconds(100))
      differing = try await client.keysDiffering(in: "app-env", from: new, digest: Self.digest)
    }
    #expect(differing.isEmpty)
    #expect(
      try kube.standIn.secretData(namespace: kube.namespace, name: "app-env")?["A"] == "three")
    // kubectl annotated the ExternalSecret (merge patch) and wrote no Secret; the
    // controller did (its writes appear in the log as CONTROLLER lines).
    let lines = try kube.standIn.requestLines()
    #expect(lines.contains { $0.hasPrefix("CONTROLLER /api/v1/namespaces/\(kube.namespace)/") })
    #expect(
      lines.contains {
        $0.hasPrefix("PATCH /apis/external-secrets.io/v1/namespaces/\(kube.namespace)/")
      }, "\(lines)")
    #expect(
      !lines.contains {
        !$0.hasPrefix("GET") && !$0.hasPrefix("CONTROLLER")
          && $0.contains("/namespaces/\(kube.namespace)/secrets")
      }, "\(lines)")
    let annotate = try #require(
      kube.invocations.all.first { $0.arguments.contains("annotate") }?.arguments)
    #expect(
      Array(annotate.suffix(6)) == [
        "annotate", "--overwrite", "externalsecrets.external-secrets.io", "--", "app",
        "force-sync=1764780000",
      ])
    // The comparison printed nothing of the values into any argument.
    for invocation in kube.invocations.all {
      #expect(!invocation.arguments.joined().contains("three"))
    }
  }

  @Test func aMissingKeyOrSecretCountsAsNotYetSynced() async throws {
    let kube = try await KubeFixture.make()
    let values = ["A": SecretBytes(utf8: "x"), "NEW": SecretBytes(utf8: "y")]
    #expect(
      try await kube.client.keysDiffering(in: "absent", from: values, digest: Self.digest)
        == ["A", "NEW"])
    try kube.standIn.createSecret(namespace: kube.namespace, name: "plain", values: ["A": "x"])
    #expect(
      try await kube.client.keysDiffering(in: "plain", from: values, digest: Self.digest)
        == ["NEW"])
    #expect(try await kube.client.secretOwner("plain") == nil)
    #expect(try await kube.client.secretOwner("absent") == nil)
    await #expect(throws: KubernetesError.self) {
      try await kube.client.keysDiffering(
        in: "plain", from: ["{{.}}": SecretBytes(utf8: "x")], digest: Self.digest)
    }
  }

  @Test func vaultSecretsOperatorOwnersAreFoundButNotPoked() async throws {
    let kube = try await KubeFixture.make()
    let body: [String: Any] = [
      "apiVersion": "v1", "kind": "Secret",
      "metadata": [
        "name": "vso-env",
        "labels": ["app.kubernetes.io/managed-by": "hashicorp-vso"],
        "ownerReferences": [
          [
            "apiVersion": "secrets.hashicorp.com/v1beta1", "kind": "VaultStaticSecret",
            "name": "app", "uid": UUID().uuidString.lowercased(), "controller": true,
          ]
        ],
      ],
      "stringData": ["A": "x"],
    ]
    try kube.standIn.expectSuccess(
      kube.standIn.request("POST", "/api/v1/namespaces/\(kube.namespace)/secrets", json: body),
      "create the VSO secret")
    let owner = try #require(try await kube.client.secretOwner("vso-env"))
    #expect(owner.controller == .vaultSecretsOperator)
    #expect(owner.description == "VaultStaticSecret \"app\" (Vault Secrets Operator)")
    let before = kube.invocations.all.count
    #expect(try await kube.client.requestSync(owner, stamp: "1") == false)
    #expect(kube.invocations.all.count == before)
    #expect(
      KubernetesError.controllerDidNotSync(owner: owner, secret: "vso-env", seconds: 5)
        .description.hasPrefix(
          "VaultStaticSecret \"app\" (Vault Secrets Operator) did not write the new values to Secret \"vso-env\" within 5 s"
        ))
  }

  @Test func anEsoMarkedSecretWithoutItsExternalSecretIsRefused() async throws {
    let kube = try await KubeFixture.make()
    let body: [String: Any] = [
      "apiVersion": "v1", "kind": "Secret",
      "metadata": [
        "name": "orphan", "annotations": ["reconcile.external-secrets.io/data-hash": "x"],
      ],
      "stringData": ["A": "x"],
    ]
    try kube.standIn.expectSuccess(
      kube.standIn.request("POST", "/api/v1/namespaces/\(kube.namespace)/secrets", json: body),
      "create the orphan secret")
    await #expect(throws: KubernetesError.self) {
      try await kube.client.secretOwner("orphan")
    }
  }
}
