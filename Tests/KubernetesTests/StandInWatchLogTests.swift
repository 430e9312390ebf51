import Foundation
import LockstepCore
import TestSupport
import Testing

/// The stand-in's watch log is bounded, as kube-apiserver's watch cache is. A client that
/// asks for events the log no longer holds is told so (410 Expired, or its watch is
/// closed), and lists again; a stream with a silent gap would let a rollout wait on an
/// event it was never sent. Each test that shrinks the log runs a stand-in of its own.
@Suite("Watches and the stand-in's bounded event log")
struct StandInWatchLogTests {
  struct Event: Equatable {
    let type: String
    let name: String
    let resourceVersion: Int
    /// The Status code of an ERROR event.
    let code: Int?
  }

  static func events(_ text: String) throws -> [Event] {
    try text.split(separator: "\n").map { line in
      let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
      let object = event["object"] as? [String: Any] ?? [:]
      let metadata = object["metadata"] as? [String: Any] ?? [:]
      return Event(
        type: event["type"] as? String ?? "", name: metadata["name"] as? String ?? "",
        resourceVersion: Int(metadata["resourceVersion"] as? String ?? "") ?? 0,
        code: object["code"] as? Int)
    }
  }

  static func resourceVersion(_ response: KubernetesStandIn.Response) throws -> Int {
    let metadata = (try response.json() as? [String: Any])?["metadata"] as? [String: Any]
    return Int(metadata?["resourceVersion"] as? String ?? "") ?? 0
  }

  /// Creates ConfigMap `name` and returns its resourceVersion.
  static func createConfigMap(_ standIn: KubernetesStandIn, _ namespace: String, _ name: String)
    throws -> Int
  {
    try resourceVersion(
      standIn.expectSuccess(
        standIn.request(
          "POST", "/api/v1/namespaces/\(namespace)/configmaps",
          json: ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": name]]),
        "create configmap \(name)"))
  }

  /// Runs `body` against a stand-in of its own whose watch log keeps only 4 events, so a
  /// few requests make a burst larger than the log.
  static func withSmallLog(_ body: (KubernetesStandIn) async throws -> Void) async throws {
    try await withLocalService(.k8s) { service in
      let standIn = KubernetesStandIn(service)
      try standIn.expectSuccess(
        standIn.request("POST", "/_standin/watch-cache", json: ["size": 4]), "watch-cache")
      try await body(standIn)
    }
  }

  @Test func aWatchFromBeforeTheLogIsExpiredAndOneWithinItMissesNothing() async throws {
    try await Self.withSmallLog { standIn in
      let namespace = try standIn.newNamespace("log")
      let configMaps = "/api/v1/namespaces/\(namespace)/configmaps"
      let created = try Self.createConfigMap(standIn, namespace, "c")
      var versions: [Int] = []
      for value in 1...6 {
        versions.append(
          try Self.resourceVersion(
            standIn.expectSuccess(
              standIn.request(
                "PATCH", configMaps + "/c", json: ["data": ["n": String(value)]],
                contentType: "application/merge-patch+json"),
              "patch \(value)")))
      }

      // 8 events since the start, the last 4 kept: the ones after `created` are partly gone.
      let expired = try Self.events(
        standIn.request("GET", configMaps + "?watch=true&resourceVersion=\(created)").text)
      #expect(expired.map(\.type) == ["ERROR"])
      #expect(expired.first?.code == 410)

      // A watch from the 3rd patch, which is kept, gets the 3 after it.
      let recent = try Self.events(
        standIn.request(
          "GET", configMaps + "?watch=true&resourceVersion=\(versions[2])&timeoutSeconds=1"
        ).text)
      #expect(recent.map(\.type) == Array(repeating: "MODIFIED", count: 3))
      #expect(recent.map(\.resourceVersion) == Array(versions[3...]))
    }
  }

  @Test func aWatcherThatFallsBehindTheLogIsClosedNotServedAGap() async throws {
    try await Self.withSmallLog { standIn in
      let namespace = try standIn.newNamespace("behind")
      let configMaps = "/api/v1/namespaces/\(namespace)/configmaps"
      var last = 0
      for index in 0..<8 { last = try Self.createConfigMap(standIn, namespace, "c\(index)") }

      // A watcher that has seen the marker is waiting for the next event when the namespace
      // goes: its 10 deletions happen at once, more than the log keeps.
      let file = try TemporaryDirectory.make(prefix: "lockstep-watch") + "/stream"
      let watching = Task {
        try await standIn.watch(
          configMaps + "?watch=true&resourceVersion=\(last)&timeoutSeconds=300", into: file,
          timeout: .seconds(360))
      }
      let marker = try Self.createConfigMap(standIn, namespace, "marker")
      try await waitUntil("the watch sent the marker", limit: .seconds(300)) {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        return try Self.events(text).contains { $0.name == "marker" }
      }
      try standIn.expectSuccess(
        standIn.request("DELETE", "/api/v1/namespaces/\(namespace)"), "delete namespace")
      // Then one more event the watch matches: a watch still open would send it. No time
      // bound decides the outcome (CI runs beside a CPU hog); only what the watch sent.
      try standIn.createNamespace(namespace)
      _ = try Self.createConfigMap(standIn, namespace, "after")
      let result = try await watching.value
      #expect(result.succeeded, "\(result.stderrText)")
      let events = try Self.events(try String(contentsOfFile: file, encoding: .utf8))
      #expect(events.map(\.type) == ["ADDED"], "\(events)")
      #expect(events.map(\.resourceVersion) == [marker])

      // The client watches again from the last version it saw, and is told to list again.
      let again = try Self.events(
        standIn.request("GET", configMaps + "?watch=true&resourceVersion=\(marker)").text)
      #expect(again.map(\.type) == ["ERROR"])
      #expect(again.first?.code == 410)
    }
  }

  /// Real kubectl does what kube-apiserver's clients do when their watch is closed behind a
  /// burst: watch again from the last version seen, get 410 Expired, list again, and go
  /// on. `rollout status` still sees the rollout that completes after the burst.
  @Test func kubectlRolloutStatusListsAgainAfterItsWatchIsClosed() async throws {
    try await Self.withSmallLog { standIn in
      let namespace = try standIn.newNamespace("relist")
      try standIn.createDeployment(
        namespace: namespace, name: "web", containers: [.init("app")], holdRollouts: true)
      let kubeconfig = try standIn.kubeconfig(minor: KubernetesStandIn.selectedMinor)
      let environment = try KubernetesStandIn.kubectlEnvironment()
      let status = Task {
        try await ChildProcess.runDetached(
          "kubectl",
          [
            "--kubeconfig", kubeconfig, "--namespace", namespace, "rollout", "status",
            "deployment/web", "--timeout=600s",
          ], environment: environment, timeout: .seconds(660))
      }
      let deployments = "/apis/apps/v1/namespaces/\(namespace)/deployments?"
      /// kubectl's lists and watches of the deployment, in order.
      func reads() throws -> [String] {
        try standIn.requestLines().filter { $0.hasPrefix("GET ") && $0.contains(deployments) }
      }
      try await waitUntil("kubectl watched the deployment", limit: .seconds(300)) {
        try reads().contains { $0.contains("watch=true") }
      }
      try await Task.sleep(for: .milliseconds(500))

      // A burst larger than the log, all at once: a namespace of 8 ConfigMaps goes.
      let other = try standIn.newNamespace("burst")
      for index in 0..<8 { _ = try Self.createConfigMap(standIn, other, "c\(index)") }
      try standIn.expectSuccess(
        standIn.request("DELETE", "/api/v1/namespaces/\(other)"), "delete namespace")
      try standIn.rollout(namespace: namespace, deployment: "web", "release")

      let result = try await status.value
      #expect(result.succeeded, "\(result.stderrText)")
      #expect(result.stdoutText.contains("successfully rolled out"), "\(result.stdoutText)")
      // As kubectl 1.32 does it: the closed watch from version V, a watch from V again
      // (410), a list, and a watch from the list's version.
      let requests = try reads()
      let firstWatch = try #require(requests.firstIndex { $0.contains("watch=true") })
      let relist = try #require(
        requests[(firstWatch + 1)...].firstIndex { !$0.contains("watch=true") },
        "kubectl did not list again after its watch was closed: \(requests)")
      #expect(requests[(relist + 1)...].contains { $0.contains("watch=true") })
    }
  }

  @Test func deletingANamespaceIsSeenByTheWatchersOfWhatItHeld() async throws {
    let standIn = try await KubernetesStandIn.shared()
    let namespace = try standIn.newNamespace("gone")
    var last = 0
    for name in ["a", "b", "c"] { last = try Self.createConfigMap(standIn, namespace, name) }
    try standIn.createSecret(namespace: namespace, name: "s", values: ["K": "v"])
    try standIn.expectSuccess(
      standIn.request("DELETE", "/api/v1/namespaces/\(namespace)"), "delete namespace")

    let base = "/api/v1/namespaces/\(namespace)"
    let configMaps = try Self.events(
      standIn.request(
        "GET", base + "/configmaps?watch=true&resourceVersion=\(last)&timeoutSeconds=1"
      ).text)
    #expect(configMaps.map(\.type) == ["DELETED", "DELETED", "DELETED"])
    #expect(Set(configMaps.map(\.name)) == ["a", "b", "c"])
    let secrets = try Self.events(
      standIn.request(
        "GET", base + "/secrets?watch=true&resourceVersion=\(last)&timeoutSeconds=1"
      ).text)
    #expect(secrets.map(\.type) == ["ADDED", "DELETED"])
    #expect(secrets.map(\.name) == ["s", "s"])
  }
}
