import Foundation
import LockstepCore

/// Test access to the Kubernetes API stand-in (Tests/Support/k8s_standin.py) started by
/// `LocalService.start(.k8s)`: seeding deployments, Secrets and ConfigMaps over its HTTP API,
/// reading back what kubectl did, and its admin knobs (deny rules, the request log).
///
/// Requests go through `curl` with the body on stdin, so even test values stay out of argv.
/// Each test should take a namespace of its own (`uniqueNamespace()`): namespaces exist
/// implicitly, and deny rules can be scoped to one.
public struct KubernetesStandIn: Sendable {
  public let service: LocalService

  public init(_ service: LocalService) {
    precondition(service.kind == .k8s, "KubernetesStandIn needs a k8s LocalService")
    self.service = service
  }

  /// The shared stand-in of this test process.
  public static func shared() async throws -> KubernetesStandIn {
    KubernetesStandIn(try await SharedServices.shared.service(.k8s))
  }

  public var baseURL: String { "http://127.0.0.1:\(service.port)" }
  /// Written by scripts/stack.sh: server, context `lockstep-local`, namespace `default`.
  public var kubeconfig: String { service.directory + "/kubeconfig" }
  public var stateFile: String { service.directory + "/k8s-state.json" }
  public static let context = "lockstep-local"

  public static func uniqueNamespace(_ prefix: String = "t") -> String {
    "\(prefix)-\(UUID().uuidString.lowercased().prefix(12))"
  }

  /// The environment for a kubectl child: PATH and a discovery cache of the test's own
  /// (KUBECACHEDIR), nothing else.
  public static func kubectlEnvironment() throws -> [String: String] {
    [
      "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
      "KUBECACHEDIR": try TemporaryDirectory.make(prefix: "lockstep-kubecache"),
    ]
  }

  public struct Response: Sendable {
    public let status: Int
    public let body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
    public func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(body)) }
  }

  /// One HTTP request to the stand-in.
  @discardableResult
  public func request(
    _ method: String, _ path: String, json body: Any? = nil,
    contentType: String = "application/json"
  ) throws -> Response {
    var arguments = [
      "-sS", "-X", method, "-o", "-", "-w", "\n%{http_code}", "-H", "Content-Type: \(contentType)",
    ]
    var stdin: SecretBytes?
    if let body {
      stdin = SecretBytes(copying: try JSONSerialization.data(withJSONObject: body))
      arguments += ["--data-binary", "@-"]
    }
    let result = try ChildProcess.run(
      "curl", arguments + [baseURL + path], stdin: stdin, timeout: .seconds(20))
    guard result.status == 0 else { throw UserError("curl failed: \(result.stderrText)") }
    var output = result.stdout
    let newline = output.lastIndex(of: UInt8(ascii: "\n")) ?? output.startIndex
    let status = Int(String(decoding: output[output.index(after: newline)...], as: UTF8.self)) ?? 0
    output.removeSubrange(newline...)
    return Response(status: status, body: output)
  }

  /// Fails unless the stand-in answered 2xx.
  @discardableResult
  func expectSuccess(_ response: Response, _ what: String) throws -> Response {
    guard (200..<300).contains(response.status) else {
      throw UserError("\(what): HTTP \(response.status) \(response.text)")
    }
    return response
  }

  public struct ContainerSeed: Sendable {
    public var name: String
    public var image: String
    public var env: [(String, String)]
    public var envFromSecrets: [String]
    public var envFromConfigMaps: [String]

    public init(
      _ name: String, image: String = "example/app:1", env: [(String, String)] = [],
      envFromSecrets: [String] = [], envFromConfigMaps: [String] = []
    ) {
      self.name = name
      self.image = image
      self.env = env
      self.envFromSecrets = envFromSecrets
      self.envFromConfigMaps = envFromConfigMaps
    }
  }

  /// Creates deployment `name`; `annotations` drive the simulated rollout
  /// (`lockstep.test/stuck`, `lockstep.test/fail`, `lockstep.test/rollout-delay-ms`).
  public func createDeployment(
    namespace: String, name: String, replicas: Int = 2, containers: [ContainerSeed],
    annotations: [String: String] = [:]
  ) throws {
    let specs: [[String: Any]] = containers.map { container in
      var spec: [String: Any] = ["name": container.name, "image": container.image]
      if !container.env.isEmpty {
        spec["env"] = container.env.map { ["name": $0.0, "value": $0.1] }
      }
      let from =
        container.envFromSecrets.map { ["secretRef": ["name": $0]] }
        + container.envFromConfigMaps.map { ["configMapRef": ["name": $0]] }
      if !from.isEmpty { spec["envFrom"] = from }
      return spec
    }
    let body: [String: Any] = [
      "apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": ["name": name, "annotations": annotations],
      "spec": [
        "replicas": replicas, "selector": ["matchLabels": ["app": name]],
        "template": [
          "metadata": ["labels": ["app": name]], "spec": ["containers": specs],
        ],
      ],
    ]
    try expectSuccess(
      request("POST", "/apis/apps/v1/namespaces/\(namespace)/deployments", json: body),
      "create deployment \(name)")
  }

  /// Creates a Secret from test values (`stringData`, folded into base64 `data`).
  public func createSecret(namespace: String, name: String, values: [String: String]) throws {
    let body: [String: Any] = [
      "apiVersion": "v1", "kind": "Secret", "metadata": ["name": name], "stringData": values,
    ]
    try expectSuccess(
      request("POST", "/api/v1/namespaces/\(namespace)/secrets", json: body),
      "create secret \(name)")
  }

  public func createConfigMap(namespace: String, name: String, values: [String: String]) throws {
    let body: [String: Any] = [
      "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": name], "data": values,
    ]
    try expectSuccess(
      request("POST", "/api/v1/namespaces/\(namespace)/configmaps", json: body),
      "create configmap \(name)")
  }

  /// A deployment as the API holds it (JSON object).
  public func deploymentObject(namespace: String, name: String) throws -> [String: Any] {
    let response = try expectSuccess(
      request("GET", "/apis/apps/v1/namespaces/\(namespace)/deployments/\(name)"),
      "get deployment \(name)")
    return try response.json() as? [String: Any] ?? [:]
  }

  /// The env list of one container: name → value (literal) or "secret:NAME/KEY".
  public func containerEnv(
    namespace: String, deployment: String, container: String
  ) throws -> [String: String] {
    let object = try deploymentObject(namespace: namespace, name: deployment)
    let spec = object["spec"] as? [String: Any]
    let template = spec?["template"] as? [String: Any]
    let pod = template?["spec"] as? [String: Any]
    let containers = pod?["containers"] as? [[String: Any]] ?? []
    guard let found = containers.first(where: { $0["name"] as? String == container }) else {
      return [:]
    }
    var env: [String: String] = [:]
    for entry in found["env"] as? [[String: Any]] ?? [] {
      guard let name = entry["name"] as? String else { continue }
      if let value = entry["value"] as? String {
        env[name] = value
      } else if let from = entry["valueFrom"] as? [String: Any],
        let ref = from["secretKeyRef"] as? [String: Any]
      {
        env[name] = "secret:\(ref["name"] as? String ?? "")/\(ref["key"] as? String ?? "")"
      }
    }
    return env
  }

  /// A Secret's data, decoded (test values only), or nil when it does not exist.
  public func secretData(namespace: String, name: String) throws -> [String: String]? {
    let response = try request("GET", "/api/v1/namespaces/\(namespace)/secrets/\(name)")
    if response.status == 404 { return nil }
    try expectSuccess(response, "get secret \(name)")
    let object = try response.json() as? [String: Any]
    let data = object?["data"] as? [String: String] ?? [:]
    return data.compactMapValues { value in
      Data(base64Encoded: value).map { String(decoding: $0, as: UTF8.self) }
    }
  }

  /// Merge-patches a deployment directly (e.g. to add a rollout annotation).
  public func mergePatchDeployment(namespace: String, name: String, patch: [String: Any]) throws {
    try expectSuccess(
      request(
        "PATCH", "/apis/apps/v1/namespaces/\(namespace)/deployments/\(name)", json: patch,
        contentType: "application/merge-patch+json"),
      "patch deployment \(name)")
  }

  /// Every request line the stand-in has served ("METHOD /path?query").
  public func requestLines() throws -> [String] {
    let response = try expectSuccess(request("GET", "/_standin/requests"), "read the request log")
    let entries = try response.json() as? [[String: Any]] ?? []
    return entries.map { "\($0["method"] as? String ?? "") \($0["path"] as? String ?? "")" }
  }

  /// After each of the next `times` GETs of the deployment, the stand-in makes a status-only
  /// write (a new resourceVersion), as the deployment controller does during a rollout.
  public func writeStatusAfterGet(namespace: String, deployment: String, times: Int) throws {
    try expectSuccess(
      request(
        "POST", "/_standin/status-after-get",
        json: ["namespace": namespace, "name": deployment, "times": times]),
      "ask for status writes")
  }

  /// Makes the stand-in answer 403 for `verb` on `resource` in `namespace` ("*" for all).
  public func deny(verb: String, resource: String, namespace: String) throws {
    try expectSuccess(
      request(
        "POST", "/_standin/deny",
        json: [["verb": verb, "resource": resource, "namespace": namespace]]),
      "add a deny rule")
  }
}
