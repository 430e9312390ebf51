import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// Test access to the Kubernetes API stand-in (Tests/Support/k8s_standin.py) started by
/// `LocalService.start(.k8s)`: seeding namespaces, deployments, Secrets and ConfigMaps over
/// its HTTPS API as the cluster admin, reading back what kubectl did, and its admin knobs
/// (users and their RBAC rules, deny rules, held rollouts, the request log).
///
/// Requests go through `curl` with the body on stdin and the admin token in a header file,
/// so even test values stay out of argv. Each test takes a namespace of its own
/// (`newNamespace()`): like kube-apiserver, the stand-in creates nothing in a namespace that
/// does not exist.
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

  public var baseURL: String { "https://127.0.0.1:\(service.port)" }
  /// The stand-in's self-signed certificate (scripts/stack.sh, `--tls-dir`).
  public var caFile: String { service.directory + "/k8s-tls/ca.pem" }
  /// The token of user `lockstep`, bound to cluster-admin (the kubeconfig's credential).
  public static let adminToken = "lockstep-local-token"
  /// Written by scripts/stack.sh: server, context `lockstep-local`, namespace `default`,
  /// user `lockstep`. The server reports `minor` (nil: `LOCKSTEP_KUBECTL_MINOR`, else the
  /// stand-in's default), and so decides which `kubectl.1.N` the dispatcher runs.
  public var kubeconfig: String { (try? kubeconfig(minor: Self.selectedMinor)) ?? baseKubeconfig }
  public var baseKubeconfig: String { service.directory + "/kubeconfig" }
  public var stateFile: String { service.directory + "/k8s-state.json" }
  public static let context = "lockstep-local"

  /// `LOCKSTEP_KUBECTL_MINOR=28` runs every test that uses `kubeconfig` against kubectl 1.28
  /// (`make test-kubectl-minors` loops over `KubectlMinors.present`).
  public static var selectedMinor: Int? {
    ProcessInfo.processInfo.environment["LOCKSTEP_KUBECTL_MINOR"].flatMap { Int($0) }
  }

  /// A kubeconfig like the stack's, whose server path prefix (`/_as/1.N[,no-authz]`) makes
  /// the stand-in report version 1.`minor` (and hide the authorization API).
  public func kubeconfig(
    minor: Int?, authorizationAPI: Bool = true, token: String = adminToken
  ) throws -> String {
    guard minor != nil || !authorizationAPI || token != Self.adminToken else {
      return baseKubeconfig
    }
    var options = minor.map { ["1.\($0)"] } ?? []
    if !authorizationAPI { options.append("no-authz") }
    let suffix = options.isEmpty ? "" : "/_as/" + options.joined(separator: ",")
    let name = "kubeconfig-\(options.joined(separator: "-"))-\(token)"
    let path = service.directory + "/" + name
    if FileManager.default.fileExists(atPath: path) { return path }
    let base = try String(contentsOfFile: baseKubeconfig, encoding: .utf8)
    let text =
      base
      .replacingOccurrences(
        of: "server: \(baseURL)\n", with: "server: \(baseURL)\(suffix)\n"
      )
      .replacingOccurrences(of: "token: \(Self.adminToken)", with: "token: \(token)")
    let temporary = path + ".\(UUID().uuidString)"
    try text.write(toFile: temporary, atomically: false, encoding: .utf8)
    chmod(temporary, 0o600)
    rename(temporary, path)
    return path
  }

  public static func uniqueNamespace(_ prefix: String = "t") -> String {
    "\(prefix)-\(UUID().uuidString.lowercased().prefix(12))"
  }

  /// Creates a namespace with a fresh name and returns the name.
  public func newNamespace(_ prefix: String = "t") throws -> String {
    let name = Self.uniqueNamespace(prefix)
    try createNamespace(name)
    return name
  }

  public func createNamespace(_ name: String) throws {
    try expectSuccess(
      request(
        "POST", "/api/v1/namespaces",
        json: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": name]]),
      "create namespace \(name)")
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
    var arguments =
      try curlAsAdmin() + [
        "-X", method, "-o", "-", "-w", "\n%{http_code}", "-H", "Content-Type: \(contentType)",
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

  /// A watch request whose stream curl writes to `file` as it arrives (`-N`), so a test
  /// can see what the watch has sent while it is still open. Returns when the stand-in ends
  /// the stream or after `timeout`; the stream's lines are read from `file`.
  public func watch(
    _ path: String, into file: String, timeout: Duration = .seconds(30)
  ) async throws -> ChildProcess.Result {
    try await ChildProcess.runDetached(
      "curl", try curlAsAdmin() + ["-N", "-o", file, baseURL + path], timeout: timeout)
  }

  /// curl's arguments for the stand-in's TLS and the admin's token (from a file, not argv).
  private func curlAsAdmin() throws -> [String] {
    ["-sS", "--cacert", caFile, "-H", "@" + (try adminHeaderFile())]
  }

  /// A file holding the admin's `Authorization` header, for curl's `-H @file`.
  private func adminHeaderFile() throws -> String {
    let path = service.directory + "/admin-header"
    if !FileManager.default.fileExists(atPath: path) {
      let temporary = path + ".\(UUID().uuidString)"
      _ = FileManager.default.createFile(
        atPath: temporary, contents: Data("Authorization: Bearer \(Self.adminToken)\n".utf8),
        attributes: [.posixPermissions: 0o600])
      rename(temporary, path)
    }
    return path
  }

  /// Fails unless the stand-in answered 2xx.
  @discardableResult
  public func expectSuccess(_ response: Response, _ what: String) throws -> Response {
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

  /// Creates deployment `name`. `holdRollouts` holds its rollouts (the first included) until
  /// `stepRollout`/`releaseRollout`; `paused` sets `spec.paused`.
  public func createDeployment(
    namespace: String, name: String, replicas: Int = 2, containers: [ContainerSeed],
    annotations: [String: String] = [:], holdRollouts: Bool = false, paused: Bool = false
  ) throws {
    if holdRollouts { try rollout(namespace: namespace, deployment: name, "hold") }
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
        "replicas": replicas, "paused": paused, "selector": ["matchLabels": ["app": name]],
        "template": [
          "metadata": ["labels": ["app": name]], "spec": ["containers": specs],
        ],
      ],
    ]
    try expectSuccess(
      request("POST", "/apis/apps/v1/namespaces/\(namespace)/deployments", json: body),
      "create deployment \(name)")
  }

  /// Creates a StatefulSet (`kind` "statefulsets") or DaemonSet ("daemonsets") whose one
  /// container reads Secret `secret` through `envFrom`; `strategy` is the updateStrategy
  /// (nil: the API's default, RollingUpdate); `holdRollouts` as for deployments.
  public func createWorkload(
    _ resource: String, namespace: String, name: String, secret: String, replicas: Int = 2,
    strategy: [String: Any]? = nil, annotations: [String: String] = [:],
    holdRollouts: Bool = false
  ) throws {
    if holdRollouts {
      try rollout(namespace: namespace, deployment: name, "hold", resource: resource)
    }
    var spec: [String: Any] = [
      "selector": ["matchLabels": ["app": name]],
      "template": [
        "metadata": ["labels": ["app": name]],
        "spec": [
          "containers": [
            ["name": "app", "image": "aura/app:1", "envFrom": [["secretRef": ["name": secret]]]]
          ]
        ],
      ],
    ]
    if resource == "statefulsets" {
      spec["replicas"] = replicas
      spec["serviceName"] = name
    }
    if let strategy { spec["updateStrategy"] = strategy }
    let kind = resource == "statefulsets" ? "StatefulSet" : "DaemonSet"
    let body: [String: Any] = [
      "apiVersion": "apps/v1", "kind": kind,
      "metadata": ["name": name, "annotations": annotations], "spec": spec,
    ]
    try expectSuccess(
      request("POST", "/apis/apps/v1/namespaces/\(namespace)/\(resource)", json: body),
      "create \(resource) \(name)")
  }

  /// A workload object as the API holds it (`resource`: deployments, statefulsets, …).
  public func object(_ resource: String, namespace: String, name: String) throws -> [String: Any] {
    let group = resource == "externalsecrets" ? "external-secrets.io/v1" : "apps/v1"
    let response = try expectSuccess(
      request("GET", "/apis/\(group)/namespaces/\(namespace)/\(resource)/\(name)"),
      "get \(resource) \(name)")
    return try response.json() as? [String: Any] ?? [:]
  }

  /// Gives the stand-in's ESO-like controller a SecretStore: OpenBao at `address`, KV v2
  /// `mount`, read with `token` (held in the stand-in's memory only).
  public func configureExternalSecrets(
    store: String, address: String, token: String, mount: String, delayMilliseconds: Int = 0
  ) throws {
    try expectSuccess(
      request(
        "POST", "/_standin/eso",
        json: [
          "stores": [store: ["address": address, "token": token, "mount": mount]],
          "delayMs": delayMilliseconds,
        ]), "configure the ESO-like controller")
  }

  /// Creates an ExternalSecret whose `keys` come from properties of the same name at KV
  /// `path` (in the store's mount), into Secret `target`.
  public func createExternalSecret(
    namespace: String, name: String, store: String, path: String, keys: [String],
    target: String, annotations: [String: String] = [:]
  ) throws {
    let body: [String: Any] = [
      "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
      "metadata": ["name": name, "annotations": annotations],
      "spec": [
        "refreshInterval": "1h",
        "secretStoreRef": ["name": store, "kind": "SecretStore"],
        "target": ["name": target, "creationPolicy": "Owner"],
        "data": keys.map { ["secretKey": $0, "remoteRef": ["key": path, "property": $0]] },
      ],
    ]
    try expectSuccess(
      request(
        "POST", "/apis/external-secrets.io/v1/namespaces/\(namespace)/externalsecrets", json: body),
      "create externalsecret \(name)")
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
      if entry["value"] is String && entry["valueFrom"] != nil {
        // The API refuses both (422); a stand-in that stored it would be a bug.
        throw UserError("env \(name) holds both value and valueFrom")
      }
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

  /// What `POST /_standin/rollout` answered: where the deployment's rollout stands.
  public struct RolloutState: Sendable, Equatable {
    public var held: Bool
    public var phase: String
    public var failed: Bool
  }

  /// Drives the simulated rollouts of one deployment: "hold" (they advance only when
  /// stepped, from now on, also before the deployment exists), "step" (one phase on: spec
  /// observed, surge, old pods pending termination, updated pods not yet available,
  /// complete), "release" (run to completion), "fail" (ProgressDeadlineExceeded).
  @discardableResult
  public func rollout(
    namespace: String, deployment: String, _ action: String, resource: String = "deployments"
  ) throws -> RolloutState {
    let response = try expectSuccess(
      request(
        "POST", "/_standin/rollout",
        json: [
          "namespace": namespace, "name": deployment, "action": action, "resource": resource,
        ]),
      "\(action) the rollout of \(deployment)")
    let object = try response.json() as? [String: Any] ?? [:]
    return RolloutState(
      held: object["held"] as? Bool ?? false, phase: object["phase"] as? String ?? "",
      failed: object["failed"] as? Bool ?? false)
  }

  /// Adds (or replaces) a user with a bearer token and RBAC rules, each
  /// `["verbs": […], "apiGroups": […], "resources": […], "resourceNames": […],
  /// "namespaces": […]]` (no "namespaces": bound cluster-wide).
  public func addUser(_ name: String, token: String?, rules: [[String: Any]]) throws {
    var body: [String: Any] = ["name": name, "rules": rules]
    if let token { body["token"] = token }
    try expectSuccess(request("POST", "/_standin/users", json: body), "add user \(name)")
  }

  /// Makes the stand-in answer 403 for `verb` on `resource` in `namespace` ("*" for all),
  /// as a webhook authorizer's deny decision would.
  public func deny(verb: String, resource: String, namespace: String) throws {
    try expectSuccess(
      request(
        "POST", "/_standin/deny",
        json: [["verb": verb, "resource": resource, "namespace": namespace]]),
      "add a deny rule")
  }
}

/// The kubectl minors this machine has: the `kubectl.1.N` binaries beside the kubectl on
/// PATH, among which the /usr/bin/kubectl dispatcher chooses by the server's version.
public enum KubectlMinors {
  public static let present: [Int] = {
    guard let kubectl = ChildProcess.which("kubectl"),
      let resolved = realpath(kubectl, nil)
    else { return [] }
    let directory = (String(cString: resolved) as NSString).deletingLastPathComponent
    free(resolved)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.compactMap { name -> Int? in
      guard name.hasPrefix("kubectl.1.") else { return nil }
      return Int(name.dropFirst("kubectl.1.".count))
    }.sorted()
  }()
}
