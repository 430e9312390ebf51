import Foundation
import LockstepCore
import TestSupport
import Testing

/// The stand-in itself, driven by the real kubectl the way a user would (and the way the
/// client does not: the watching `rollout status`, `apply`, merge and JSON patches).
@Suite("The Kubernetes API stand-in speaks what real kubectl needs")
struct StandInTests {
  struct Kubectl {
    let standIn: KubernetesStandIn
    let namespace: String
    let environment: [String: String]

    func run(
      _ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(30)
    ) throws -> ChildProcess.Result {
      try ChildProcess.run(
        "kubectl", ["--kubeconfig", standIn.kubeconfig, "--namespace", namespace] + arguments,
        environment: environment, stdin: stdin.map { SecretBytes(utf8: $0) }, timeout: timeout)
    }
  }

  func make() async throws -> Kubectl {
    let standIn = try await KubernetesStandIn.shared()
    return Kubectl(
      standIn: standIn, namespace: try standIn.newNamespace("s"),
      environment: try KubernetesStandIn.kubectlEnvironment())
  }

  @Test func applyGetPatchAndWatchingRolloutStatus() async throws {
    let kubectl = try await make()
    let manifest = """
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
       "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
        "template":{"metadata":{"labels":{"app":"web"}},
         "spec":{"containers":[{"name":"app","image":"web:1","env":[{"name":"A","value":"1"}]}]}}}}
      """
    let created = try kubectl.run(["apply", "-f", "-", "--validate=false"], stdin: manifest)
    #expect(created.succeeded, "\(created.stderrText)")
    #expect(created.stdoutText.contains("deployment.apps/web created"))
    let listed = try kubectl.run(["get", "deploy"])
    #expect(listed.stdoutText.contains("web"))
    #expect(listed.stdoutText.hasPrefix("NAME"))

    let updated = try kubectl.run(
      ["apply", "-f", "-", "--validate=false"],
      stdin: manifest.replacingOccurrences(of: "web:1", with: "web:2"))
    #expect(updated.stdoutText.contains("configured"), "\(updated.stderrText)")

    let merged = try kubectl.run(
      ["patch", "deployment", "web", "--type", "merge", "--patch-file", "/dev/stdin"],
      stdin: #"{"spec":{"replicas":4}}"#)
    #expect(merged.succeeded, "\(merged.stderrText)")
    let jsonPatched = try kubectl.run(
      ["patch", "deployment", "web", "--type", "json", "--patch-file", "/dev/stdin"],
      stdin:
        #"[{"op":"add","path":"/spec/template/spec/containers/0/env/-","value":{"name":"B","value":"2"}}]"#
    )
    #expect(jsonPatched.succeeded, "\(jsonPatched.stderrText)")
    let strategic = try kubectl.run(
      ["patch", "deployment", "web", "--type", "strategic", "--patch-file", "/dev/stdin"],
      stdin:
        #"{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"A","$patch":"delete"},{"name":"C","value":"3"}]}]}}}}"#
    )
    #expect(strategic.succeeded, "\(strategic.stderrText)")
    let env = try kubectl.standIn.containerEnv(
      namespace: kubectl.namespace, deployment: "web", container: "app")
    #expect(env == ["B": "2", "C": "3"])
    let object = try kubectl.standIn.deploymentObject(namespace: kubectl.namespace, name: "web")
    let metadata = try #require(object["metadata"] as? [String: Any])
    #expect(metadata["generation"] as? Int == 5)

    let restarted = try kubectl.run(["rollout", "restart", "deployment/web"])
    #expect(restarted.succeeded, "\(restarted.stderrText)")
    let status = try kubectl.run(["rollout", "status", "deployment/web", "--timeout=20s"])
    #expect(status.succeeded, "\(status.stderrText)")
    #expect(status.stdoutText.contains("successfully rolled out"))
    let lines = try kubectl.standIn.requestLines()
    #expect(lines.contains { $0.contains("/deployments?") && $0.contains("watch=true") })
  }

  @Test func watchingRolloutStatusTimesOutOnAStuckRollout() async throws {
    let kubectl = try await make()
    try kubectl.standIn.createDeployment(
      namespace: kubectl.namespace, name: "stuck", containers: [.init("app")],
      holdRollouts: true)
    let status = try kubectl.run(["rollout", "status", "deployment/stuck", "--timeout=1s"])
    #expect(status.status == 1)
    #expect(status.stderrText.contains("timed out waiting for the condition"))
  }

  @Test func aStaleResourceVersionAnswers409() async throws {
    let kubectl = try await make()
    let path = "/api/v1/namespaces/\(kubectl.namespace)/secrets"
    let first = try kubectl.standIn.request(
      "POST", path, json: ["metadata": ["name": "s"], "stringData": ["A": "a"]])
    #expect(first.status == 201)
    let object = try #require(try first.json() as? [String: Any])
    let metadata = try #require(object["metadata"] as? [String: Any])
    let version = try #require(metadata["resourceVersion"] as? String)
    let put = try kubectl.standIn.request(
      "PUT", path + "/s",
      json: ["metadata": ["name": "s", "resourceVersion": version], "data": ["A": "Yg=="]])
    #expect(put.status == 200)
    let stale = try kubectl.standIn.request(
      "PUT", path + "/s",
      json: ["metadata": ["name": "s", "resourceVersion": version], "data": ["A": "Yw=="]])
    #expect(stale.status == 409)
    let status = try #require(try stale.json() as? [String: Any])
    #expect(status["kind"] as? String == "Status")
    #expect(status["reason"] as? String == "Conflict")
    let missing = try kubectl.standIn.request("GET", path + "/absent")
    #expect(missing.status == 404)
    #expect((try missing.json() as? [String: Any])?["reason"] as? String == "NotFound")
    // The state file is kept up to date for the demo.
    let state = try String(contentsOfFile: kubectl.standIn.stateFile, encoding: .utf8)
    #expect(state.contains("\(kubectl.namespace)/s"))
  }

  @Test func authCanIAndCurrentContext() async throws {
    let kubectl = try await make()
    #expect(try kubectl.run(["auth", "can-i", "patch", "deployments"]).stdoutText == "yes\n")
    try kubectl.standIn.deny(verb: "patch", resource: "deployments", namespace: kubectl.namespace)
    let denied = try kubectl.run(["auth", "can-i", "patch", "deployments"])
    #expect(denied.status == 1)
    #expect(denied.stdoutText.hasPrefix("no"))
    let context = try kubectl.run(["config", "current-context"])
    #expect(context.stdoutText == KubernetesStandIn.context + "\n")
  }
}
