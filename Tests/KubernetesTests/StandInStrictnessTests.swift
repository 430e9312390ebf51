import Foundation
import LockstepCore
import TestSupport
import Testing

/// Each leniency the stand-in once had, shown refused the way kube-apiserver refuses it: a
/// stand-in that stores what a real cluster rejects lets a Lockstep bug pass every test.
@Suite("The stand-in refuses what kube-apiserver refuses")
struct StandInStrictnessTests {
  let standIn: KubernetesStandIn
  let namespace: String

  init() async throws {
    standIn = try await KubernetesStandIn.shared()
    namespace = try standIn.newNamespace("strict")
  }

  var deployments: String { "/apis/apps/v1/namespaces/\(namespace)/deployments" }
  var secrets: String { "/api/v1/namespaces/\(namespace)/secrets" }

  func deployment(
    name: String = "web", labels: [String: String] = ["app": "web"],
    selector: [String: String] = ["app": "web"], container: [String: Any]
  ) -> [String: Any] {
    [
      "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": name],
      "spec": [
        "replicas": 1, "selector": ["matchLabels": selector],
        "template": ["metadata": ["labels": labels], "spec": ["containers": [container]]],
      ],
    ]
  }

  /// Expects 422 Invalid whose message names `field` and contains `words`.
  func expectInvalid(
    _ response: KubernetesStandIn.Response, field: String, _ words: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    #expect(response.status == 422, "\(response.text)", sourceLocation: sourceLocation)
    let status = try response.json() as? [String: Any] ?? [:]
    #expect(status["reason"] as? String == "Invalid", sourceLocation: sourceLocation)
    let message = status["message"] as? String ?? ""
    #expect(message.contains("\(field): "), "\(message)", sourceLocation: sourceLocation)
    #expect(message.contains(words), "\(message)", sourceLocation: sourceLocation)
  }

  // MARK: - Deployments

  @Test func envWithBothValueAndValueFromIsInvalid() throws {
    let both: [String: Any] = [
      "name": "A", "value": "x",
      "valueFrom": ["secretKeyRef": ["name": "s", "key": "A"]],
    ]
    try expectInvalid(
      standIn.request(
        "POST", deployments,
        json: deployment(container: ["name": "app", "image": "i", "env": [both]])),
      field: "spec.template.spec.containers[0].env[0].valueFrom",
      "may not be specified when `value` is not empty")
    // The same through a strategic merge that keeps `value`: the merged object is checked.
    try standIn.expectSuccess(
      standIn.request(
        "POST", deployments,
        json: deployment(container: [
          "name": "app", "image": "i", "env": [["name": "A", "value": "x"]],
        ])),
      "create")
    let patch: [String: Any] = [
      "spec": [
        "template": [
          "spec": [
            "containers": [
              [
                "name": "app",
                "env": [["name": "A", "valueFrom": ["secretKeyRef": ["name": "s", "key": "A"]]]],
              ]
            ]
          ]
        ]
      ]
    ]
    try expectInvalid(
      standIn.request(
        "PATCH", deployments + "/web", json: patch,
        contentType: "application/strategic-merge-patch+json"),
      field: "spec.template.spec.containers[0].env[0].valueFrom", "may not be specified")
  }

  @Test func containersNeedAnImageAndALabelName() throws {
    try expectInvalid(
      standIn.request("POST", deployments, json: deployment(container: ["name": "app"])),
      field: "spec.template.spec.containers[0].image", "Required value")
    try expectInvalid(
      standIn.request(
        "POST", deployments, json: deployment(container: ["name": "App_1", "image": "i"])),
      field: "spec.template.spec.containers[0].name", "RFC 1123 label")
    try expectInvalid(
      standIn.request(
        "POST", deployments,
        json: deployment(container: [
          "name": "app", "image": "i", "env": [["name": "1BAD", "value": "x"]],
        ])),
      field: "spec.template.spec.containers[0].env[0].name", "environment variable name")
  }

  @Test func secretKeyRefsNeedAValidNameAndKey() throws {
    func reference(_ name: String, _ key: String) -> [String: Any] {
      deployment(container: [
        "name": "app", "image": "i",
        "env": [["name": "A", "valueFrom": ["secretKeyRef": ["name": name, "key": key]]]],
      ])
    }
    try expectInvalid(
      standIn.request("POST", deployments, json: reference("Aura_Secrets", "A")),
      field: "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name",
      "RFC 1123 subdomain")
    try expectInvalid(
      standIn.request("POST", deployments, json: reference("aura", "a key")),
      field: "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key",
      "valid config key")
    try expectInvalid(
      standIn.request("POST", deployments, json: reference("aura", "")),
      field: "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key", "Required value")
  }

  @Test func theSelectorMustMatchTheTemplateAndNeverChange() throws {
    try expectInvalid(
      standIn.request(
        "POST", deployments,
        json: deployment(labels: ["app": "other"], container: ["name": "app", "image": "i"])),
      field: "spec.template.metadata.labels", "`selector` does not match template `labels`")
    try standIn.expectSuccess(
      standIn.request(
        "POST", deployments, json: deployment(container: ["name": "app", "image": "i"])),
      "create")
    try expectInvalid(
      standIn.request(
        "PATCH", deployments + "/web",
        json: ["spec": ["selector": ["matchLabels": ["app": "web", "tier": "x"]]]],
        contentType: "application/merge-patch+json"),
      field: "spec.selector", "field is immutable")
  }

  @Test func namesFollowDNS1123() throws {
    try expectInvalid(
      standIn.request(
        "POST", deployments,
        json: deployment(name: "Web_1", container: ["name": "app", "image": "i"])),
      field: "metadata.name", "RFC 1123 subdomain")
    try expectInvalid(
      standIn.request(
        "POST", "/api/v1/namespaces",
        json: ["metadata": ["name": "with.dot"]]),
      field: "metadata.name", "RFC 1123 label")
  }

  // MARK: - Namespaces

  @Test func nothingIsCreatedInANamespaceThatDoesNotExist() throws {
    let missing = KubernetesStandIn.uniqueNamespace("ghost")
    let response = try standIn.request(
      "POST", "/api/v1/namespaces/\(missing)/secrets",
      json: ["metadata": ["name": "s"], "stringData": ["A": "a"]])
    #expect(response.status == 404)
    #expect(response.text.contains("namespaces \\\"\(missing)\\\" not found"))
    #expect(try standIn.request("GET", "/api/v1/namespaces/\(missing)").status == 404)
    try standIn.createNamespace(missing)
    #expect(try standIn.request("GET", "/api/v1/namespaces/\(missing)").status == 200)
  }

  // MARK: - Secrets

  @Test func secretKeysMustBeConfigKeys() throws {
    for key in ["a key", "..x", "a/b", "."] {
      try expectInvalid(
        standIn.request(
          "POST", secrets, json: ["metadata": ["name": "s"], "data": [key: "eA=="]]),
        field: "data[\(key)]", "valid config key")
    }
  }

  @Test func aSecretsTypeNeverChanges() throws {
    try standIn.expectSuccess(
      standIn.request(
        "POST", secrets,
        json: [
          "metadata": ["name": "basic"], "type": "kubernetes.io/basic-auth",
          "stringData": ["username": "u", "password": "p"],
        ]),
      "create")
    try expectInvalid(
      standIn.request(
        "PUT", secrets + "/basic",
        json: ["metadata": ["name": "basic"], "type": "Opaque", "data": ["password": "cA=="]]),
      field: "type", "field is immutable")
  }

  @Test func anImmutableSecretKeepsItsData() throws {
    try standIn.expectSuccess(
      standIn.request(
        "POST", secrets,
        json: ["metadata": ["name": "frozen"], "immutable": true, "stringData": ["A": "a"]]),
      "create")
    try expectInvalid(
      standIn.request(
        "PATCH", secrets + "/frozen", json: ["data": ["A": "Yg=="]],
        contentType: "application/merge-patch+json"),
      field: "data", "field is immutable when `immutable` is set")
    try expectInvalid(
      standIn.request(
        "PATCH", secrets + "/frozen", json: ["immutable": false],
        contentType: "application/merge-patch+json"),
      field: "immutable", "field is immutable when `immutable` is set")
    #expect(try standIn.secretData(namespace: namespace, name: "frozen") == ["A": "a"])
  }

  // MARK: - Authentication and authorization

  @Test func anUnknownTokenIs401AndAKnownOneIsItsUser() async throws {
    let environment = try KubernetesStandIn.kubectlEnvironment()
    let wrong = try standIn.kubeconfig(minor: nil, token: "not-a-token")
    let refused = try ChildProcess.run(
      "kubectl", ["--kubeconfig", wrong, "get", "secrets", "-n", namespace],
      environment: environment, timeout: .seconds(30))
    #expect(refused.status == 1)
    #expect(refused.stderrText.contains("You must be logged in to the server"))
    let token = "ci-\(UUID().uuidString)"
    try standIn.addUser(
      "ci-\(namespace)", token: token,
      rules: [["verbs": ["get"], "resources": ["secrets"], "namespaces": [namespace]]])
    let ci = try standIn.kubeconfig(minor: nil, token: token)
    let listed = try ChildProcess.run(
      "kubectl", ["--kubeconfig", ci, "get", "secrets", "-n", namespace],
      environment: environment, timeout: .seconds(30))
    #expect(listed.status == 1)
    #expect(
      listed.stderrText.contains(
        "User \"ci-\(namespace)\" cannot list resource \"secrets\" in API group \"\" in the namespace \"\(namespace)\""
      ))
  }

  @Test func resourceNamesLimitARuleToThoseObjects() async throws {
    try standIn.createSecret(namespace: namespace, name: "mine", values: ["A": "a"])
    try standIn.createSecret(namespace: namespace, name: "theirs", values: ["A": "a"])
    let token = "names-\(UUID().uuidString)"
    try standIn.addUser(
      "names-\(namespace)", token: token,
      rules: [
        [
          "verbs": ["get", "patch"], "resources": ["secrets"], "resourceNames": ["mine"],
          "namespaces": [namespace],
        ]
      ])
    let kubeconfig = try standIn.kubeconfig(minor: nil, token: token)
    let environment = try KubernetesStandIn.kubectlEnvironment()
    func kubectl(_ arguments: [String]) throws -> ChildProcess.Result {
      try ChildProcess.run(
        "kubectl", ["--kubeconfig", kubeconfig, "-n", namespace] + arguments,
        environment: environment, timeout: .seconds(30))
    }
    #expect(try kubectl(["get", "secret", "mine", "-o", "name"]).succeeded)
    let other = try kubectl(["get", "secret", "theirs", "-o", "name"])
    #expect(other.stderrText.contains("secrets \"theirs\" is forbidden"))
    #expect(try kubectl(["auth", "can-i", "patch", "secret/mine"]).stdoutText.hasPrefix("yes"))
    #expect(try kubectl(["auth", "can-i", "patch", "secret/theirs"]).stdoutText.hasPrefix("no"))
    // A name-limited rule never allows a create: its name is not known when authorizing.
    #expect(try kubectl(["auth", "can-i", "create", "secrets"]).stdoutText.hasPrefix("no"))
  }

  @Test func impersonationNeedsTheImpersonateVerb() async throws {
    try standIn.createSecret(namespace: namespace, name: "s", values: ["A": "a"])
    let token = "imp-\(UUID().uuidString)"
    try standIn.addUser(
      "imp-\(namespace)", token: token,
      rules: [["verbs": ["get", "list"], "resources": ["secrets"], "namespaces": [namespace]]])
    let kubeconfig = try standIn.kubeconfig(minor: nil, token: token)
    let environment = try KubernetesStandIn.kubectlEnvironment()
    let result = try ChildProcess.run(
      "kubectl",
      ["--kubeconfig", kubeconfig, "-n", namespace, "--as", "lockstep", "get", "secret", "s"],
      environment: environment, timeout: .seconds(30))
    #expect(result.status == 1)
    #expect(result.stderrText.contains("Error from server (Forbidden)"), "\(result.stderrText)")
    // What the server answered (kubectl's discovery words it "unknown").
    let direct = try ChildProcess.run(
      "curl",
      [
        "-sS", "--cacert", standIn.caFile, "-H", "Impersonate-User: lockstep", "-H", "@-",
        standIn.baseURL + "/api/v1/namespaces/\(namespace)/secrets/s",
      ], stdin: SecretBytes(utf8: "Authorization: Bearer \(token)\n"), timeout: .seconds(30))
    #expect(
      direct.stdoutText.contains(
        "users \\\"lockstep\\\" is forbidden: User \\\"imp-\(namespace)\\\" cannot impersonate resource \\\"users\\\""
      ), "\(direct.stdoutText)")
    // The admin may impersonate, and then has the impersonated user's rights only.
    let readOnly = try ChildProcess.run(
      "kubectl",
      [
        "--kubeconfig", standIn.kubeconfig, "-n", namespace, "--as", "lockstep-readonly",
        "delete", "secret", "s",
      ], environment: environment, timeout: .seconds(30))
    #expect(readOnly.stderrText.contains("User \"lockstep-readonly\" cannot delete resource"))
  }

  @Test func anExecCredentialPluginsTokenIsSentAndChecked() async throws {
    let directory = try TemporaryDirectory.make(prefix: "lockstep-exec")
    let plugin = directory + "/credential"
    try """
    #!/bin/sh
    echo called >> '\(directory)/calls'
    printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$TOKEN"
    """.write(toFile: plugin, atomically: true, encoding: .utf8)
    chmod(plugin, 0o755)
    let base = try String(contentsOfFile: standIn.baseKubeconfig, encoding: .utf8)
    func kubeconfig(token: String) throws -> String {
      let path = directory + "/kubeconfig-\(token)"
      try base.replacingOccurrences(
        of: "    token: \(KubernetesStandIn.adminToken)",
        with: """
              exec:
                apiVersion: client.authentication.k8s.io/v1
                command: \(plugin)
                interactiveMode: Never
                env:
                - name: TOKEN
                  value: \(token)
          """
      ).write(toFile: path, atomically: true, encoding: .utf8)
      return path
    }
    let environment = try KubernetesStandIn.kubectlEnvironment()
    let good = try ChildProcess.run(
      "kubectl",
      [
        "--kubeconfig", try kubeconfig(token: KubernetesStandIn.adminToken), "get", "ns", namespace,
      ],
      environment: environment, timeout: .seconds(30))
    #expect(good.succeeded, "\(good.stderrText)")
    let bad = try ChildProcess.run(
      "kubectl", ["--kubeconfig", try kubeconfig(token: "nope"), "get", "ns", namespace],
      environment: environment, timeout: .seconds(30))
    #expect(bad.stderrText.contains("Unauthorized"))
    #expect(FileManager.default.fileExists(atPath: directory + "/calls"))
  }
}
