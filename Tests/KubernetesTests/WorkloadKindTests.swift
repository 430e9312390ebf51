import Foundation
import Kubernetes
import LockstepCore
import TestSupport
import Testing

/// StatefulSets and DaemonSets through the real kubectl and the stand-in: restart, the
/// rollout as each controller reports it, and the strategies a restart cannot prove.
@Suite("Workload kinds")
struct WorkloadKindTests {
  @Test(arguments: [WorkloadKind.statefulset, .daemonset])
  func restartAndRolloutFollowTheKindsController(_ kind: WorkloadKind) async throws {
    let fixture = try await KubeFixture.make()
    let resource = kind.rawValue + "s"
    try fixture.standIn.createWorkload(
      resource, namespace: fixture.namespace, name: "worker", secret: "worker-env",
      replicas: 3)
    try await fixture.client.rolloutStatus(kind, "worker", timeout: .seconds(30))
    try fixture.standIn.rollout(
      namespace: fixture.namespace, deployment: "worker", "hold", resource: resource)

    let restarted = try #require(try await fixture.client.rolloutRestart(kind, "worker"))
    #expect(restarted.annotations["kubectl.kubernetes.io/restartedAt"] != nil)
    #expect(restarted.secrets == ["worker-env"])
    #expect(restarted.updateStrategy == "RollingUpdate")
    #expect(restarted.rolloutProblem(kind) == nil)
    let restart = try #require(fixture.invocations.all.last?.arguments)
    #expect(Array(restart.suffix(2)) == ["--", "\(kind.rawValue)/worker"])

    // Held: the wait sees each phase and finishes only when the controller says so.
    let lines = Collector<String>()
    let client = fixture.client
    let wait = Task {
      try await client.rolloutStatus(kind, "worker", timeout: .seconds(30)) { lines.append($0) }
    }
    for _ in 0..<5 {
      try await Task.sleep(for: .milliseconds(400))
      try fixture.standIn.rollout(
        namespace: fixture.namespace, deployment: "worker", "step", resource: resource)
    }
    try await wait.value
    let seen = lines.all
    #expect(seen.contains { $0.hasPrefix("Waiting for") }, "\(seen)")
    #expect(kind.rolloutFinished(seen.last ?? ""), "\(seen)")
    let object = try fixture.standIn.object(resource, namespace: fixture.namespace, name: "worker")
    let status = object["status"] as? [String: Any] ?? [:]
    if kind == .statefulset {
      #expect(status["updatedReplicas"] as? Int == 3)
      #expect(status["currentRevision"] as? String == status["updateRevision"] as? String)
    } else {
      #expect(status["updatedNumberScheduled"] as? Int == 2)
    }
  }

  @Test func aHeldRolloutTimesOutNamingTheKind() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.standIn.createWorkload(
      "daemonsets", namespace: fixture.namespace, name: "agent", secret: "agent-env",
      holdRollouts: true)
    await #expect(
      throws: KubernetesError.rolloutTimedOut(deployment: "agent", seconds: 1, kind: "daemonset")
    ) {
      try await fixture.client.rolloutStatus(.daemonset, "agent", timeout: .seconds(1))
    }
    #expect(
      KubernetesError.rolloutTimedOut(deployment: "agent", seconds: 1, kind: "daemonset")
        .description == "the rollout of daemonset \"agent\" did not finish within 1 s")
  }

  @Test func onDeleteAndPartitionedStrategiesAreReportedAsProblems() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.standIn.createWorkload(
      "statefulsets", namespace: fixture.namespace, name: "db", secret: "db-env", replicas: 3,
      strategy: ["type": "RollingUpdate", "rollingUpdate": ["partition": 2]])
    try fixture.standIn.createWorkload(
      "daemonsets", namespace: fixture.namespace, name: "agent", secret: "agent-env",
      strategy: ["type": "OnDelete"])
    let db = try #require(try await fixture.client.templateReferences(.statefulset, "db"))
    #expect(db.partition == 2)
    #expect(db.rolloutProblem(.statefulset)?.contains("partitioned at 2") == true)
    let agent = try #require(try await fixture.client.templateReferences(.daemonset, "agent"))
    #expect(agent.rolloutProblem(.daemonset)?.contains("OnDelete") == true)
    // kubectl itself refuses the status of an OnDelete workload.
    await #expect(throws: KubernetesError.self) {
      try await fixture.client.rolloutStatus(.daemonset, "agent", timeout: .seconds(5))
    }
    #expect(try await fixture.client.templateReferences(.statefulset, "nope") == nil)
    await #expect(throws: KubernetesError.self) {
      try await fixture.client.rolloutRestart(.statefulset, "Bad_Name")
    }
  }

  @Test func envPatchesReachAStatefulSetsTemplate() async throws {
    let fixture = try await KubeFixture.make()
    try fixture.standIn.createWorkload(
      "statefulsets", namespace: fixture.namespace, name: "db", secret: "db-env")
    try await fixture.client.setEnv(
      .statefulset, "db", container: "app", values: ["TOKEN": SecretBytes(utf8: "t-1")])
    let references = try #require(try await fixture.client.templateReferences(.statefulset, "db"))
    #expect(references.literalEnv["app"] == ["TOKEN"])
  }
}

/// The stand-in's rules for the new kinds, each as kube-apiserver has it.
@Suite("The stand-in's StatefulSets, DaemonSets and ExternalSecrets are strict")
struct WorkloadStrictnessTests {
  @Test func statefulSetSpecFieldsOutsideTheMutableSetAreForbidden() async throws {
    let standIn = try await KubernetesStandIn.shared()
    let namespace = try standIn.newNamespace("strict-sts")
    try standIn.createWorkload("statefulsets", namespace: namespace, name: "db", secret: "s")
    let path = "/apis/apps/v1/namespaces/\(namespace)/statefulsets/db"
    let forbidden = try standIn.request(
      "PATCH", path, json: ["spec": ["serviceName": "other"]],
      contentType: "application/merge-patch+json")
    #expect(forbidden.status == 422, "\(forbidden.text)")
    #expect(forbidden.text.contains("updates to statefulset spec for fields other than"))
    let allowed = try standIn.request(
      "PATCH", path, json: ["spec": ["replicas": 4]], contentType: "application/merge-patch+json")
    #expect(allowed.status == 200, "\(allowed.text)")
    let onDeleteWithRolling = try standIn.request(
      "PATCH", path,
      json: ["spec": ["updateStrategy": ["type": "OnDelete"]]],
      contentType: "application/merge-patch+json")
    #expect(onDeleteWithRolling.status == 422)
    #expect(onDeleteWithRolling.text.contains("only allowed for updateStrategy 'RollingUpdate'"))
    let badPolicy = try standIn.request(
      "PATCH", "/apis/apps/v1/namespaces/\(namespace)/daemonsets/none",
      json: ["spec": [:] as [String: Any]], contentType: "application/merge-patch+json")
    #expect(badPolicy.status == 404)
  }

  @Test func customResourcesTakeNoStrategicMergeAndNeedTheirNamespace() async throws {
    let standIn = try await KubernetesStandIn.shared()
    let namespace = try standIn.newNamespace("strict-es")
    let body: [String: Any] = [
      "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
      "metadata": ["name": "app"],
      "spec": ["data": [["secretKey": "A", "remoteRef": ["key": "app", "property": "A"]]]],
    ]
    let missing = try standIn.request(
      "POST", "/apis/external-secrets.io/v1/namespaces/\(namespace)-gone/externalsecrets",
      json: body)
    #expect(missing.status == 404, "\(missing.text)")
    let created = try standIn.request(
      "POST", "/apis/external-secrets.io/v1/namespaces/\(namespace)/externalsecrets", json: body)
    #expect(created.status == 201, "\(created.text)")
    let strategic = try standIn.request(
      "PATCH", "/apis/external-secrets.io/v1/namespaces/\(namespace)/externalsecrets/app",
      json: ["metadata": ["annotations": ["force-sync": "1"]]],
      contentType: "application/strategic-merge-patch+json")
    #expect(strategic.status == 415, "\(strategic.text)")
    let invalid = try standIn.request(
      "POST", "/apis/external-secrets.io/v1/namespaces/\(namespace)/externalsecrets",
      json: [
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": ["name": "bad"], "spec": ["data": [["secretKey": "A"]]],
      ])
    #expect(invalid.status == 422, "\(invalid.text)")
    #expect(invalid.text.contains("spec.data[0].remoteRef.key"))
  }

}
