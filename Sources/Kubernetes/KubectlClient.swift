import Foundation
import LockstepCore

/// Drives the real `kubectl` as a child process, one run per operation.
///
/// kubectl rather than the API: it brings every authentication plugin, kubeconfig rule and
/// context a user already relies on. The price is care with the child: secret material goes
/// only on its stdin (`apply -f -`, `--patch-file /dev/stdin`), never in argv or its
/// environment (both readable by other users through /proc), and the environment is built
/// from an allow-list, so a `VAULT_TOKEN` in Lockstep's own environment never reaches kubectl.
/// Every run happens on a dedicated thread (`ChildProcess.runDetached`).
public struct KubectlClient: KubernetesClient {
  public struct Configuration: Sendable {
    /// `kubectl` on PATH, or an absolute path.
    public var executable: String
    /// The kubeconfig file(s) (`KUBECONFIG` syntax); nil: kubectl's default.
    public var kubeconfig: String?
    public var context: String?
    /// nil: the context's namespace (or `default`).
    public var namespace: String?
    /// `--as`: act as another user (least-privilege checks, tests).
    public var impersonate: String?
    /// The child's whole environment. Build it with `inheriting(_:)`.
    public var environment: [String: String]
    /// Longest a single kubectl run may take before it is killed.
    public var commandTimeout: Duration
    /// How often `rolloutStatus` asks for the rollout's state.
    public var pollInterval: Duration

    public init(
      executable: String = "kubectl", kubeconfig: String? = nil, context: String? = nil,
      namespace: String? = nil, impersonate: String? = nil,
      environment: [String: String] = Configuration.inheriting(
        ProcessInfo.processInfo.environment),
      commandTimeout: Duration = .seconds(60), pollInterval: Duration = .milliseconds(250)
    ) {
      self.executable = executable
      self.kubeconfig = kubeconfig
      self.context = context
      self.namespace = namespace
      self.impersonate = impersonate
      self.environment = environment
      self.commandTimeout = commandTimeout
      self.pollInterval = pollInterval
    }

    /// The variables kubectl needs, taken from `environment`; nothing else passes.
    public static let inheritedVariables: Set<String> = [
      "PATH", "HOME", "KUBECONFIG", "KUBECACHEDIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
      "https_proxy", "http_proxy", "no_proxy", "LANG", "LC_ALL", "TMPDIR", "USER",
      "CLOUDSDK_CONFIG", "USE_GKE_GCLOUD_AUTH_PLUGIN",
    ]

    public static func inheriting(_ environment: [String: String]) -> [String: String] {
      environment.filter { inheritedVariables.contains($0.key) }
    }
  }

  public let configuration: Configuration
  private let recorder: (@Sendable (KubectlInvocation) -> Void)?

  /// `recorder` sees every invocation before it starts (argv, environment, stdin size).
  public init(
    _ configuration: Configuration = Configuration(),
    recorder: (@Sendable (KubectlInvocation) -> Void)? = nil
  ) {
    self.configuration = configuration
    self.recorder = recorder
  }

  /// The namespace named in messages; kubectl resolves the real one.
  var namespaceLabel: String { configuration.namespace ?? "default" }

  var childEnvironment: [String: String] {
    var environment = configuration.environment
    if let kubeconfig = configuration.kubeconfig { environment["KUBECONFIG"] = kubeconfig }
    return environment
  }

  /// Runs kubectl with the global flags in front of `arguments`; throws on a failed run,
  /// turning kubectl's message into a `KubernetesError`.
  @discardableResult
  func kubectl(
    _ arguments: [String], action: String, target: (kind: String, name: String)? = nil,
    stdin: SecretBytes? = nil, timeout: Duration? = nil
  ) async throws(KubernetesError) -> ChildProcess.Result {
    let result = try await launch(arguments, action: action, stdin: stdin, timeout: timeout)
    guard result.status == 0 else {
      throw classify(result, action: action, target: target, carriesSecrets: stdin != nil)
    }
    return result
  }

  /// Runs kubectl and returns its result whatever its exit status (only a missing kubectl or
  /// a timeout throws).
  func launch(
    _ arguments: [String], action: String, stdin: SecretBytes? = nil, timeout: Duration? = nil
  ) async throws(KubernetesError) -> ChildProcess.Result {
    let environment = childEnvironment
    guard
      let executable = ChildProcess.which(
        configuration.executable, path: environment["PATH"] ?? "/usr/bin:/bin")
    else { throw .kubectlMissing(configuration.executable) }
    // Names reach kubectl only once checked, and always as `--flag=value` or after `--`,
    // so none can be read as a flag (`--kubeconfig=evil.yaml` would run its exec plugin).
    var argv: [String] = []
    if let context = configuration.context {
      argv.append("--context=" + (try KubernetesName.checked(context, as: .context)))
    }
    if let namespace = configuration.namespace {
      argv.append("--namespace=" + (try KubernetesName.checked(namespace, as: .namespace)))
    }
    if let user = configuration.impersonate {
      argv.append("--as=" + (try KubernetesName.checked(user, as: .context)))
    }
    argv += arguments
    recorder?(
      KubectlInvocation(
        executable: executable, arguments: argv, environment: environment,
        stdinByteCount: stdin?.count ?? 0))
    let result: ChildProcess.Result
    do {
      result = try await ChildProcess.runDetached(
        executable, argv, environment: environment, stdin: stdin,
        timeout: timeout ?? configuration.commandTimeout)
    } catch {
      throw .failed(action: action, detail: error.description)
    }
    if result.timedOut { throw .commandTimedOut(action: action) }
    return result
  }

  /// Maps kubectl's stderr to an error. Its known shapes (the API's Status reasons, client
  /// configuration errors, dial errors) carry no object content; anything else is quoted
  /// only when no secret went in.
  func classify(
    _ result: ChildProcess.Result, action: String, target: (kind: String, name: String)?,
    carriesSecrets: Bool
  ) -> KubernetesError {
    let text = result.stderrText
    let lines = text.split(separator: "\n").map(String.init)
    let last = lines.last { !$0.hasPrefix("E") || !$0.contains(".go:") } ?? lines.last ?? ""
    if let range = text.range(of: "context was not found for specified context: ") {
      let name = text[range.upperBound...].prefix { $0 != "\n" }
      return .contextMissing(String(name))
    }
    // kubectl says "context was not found for specified context: X"; the /usr/bin/kubectl
    // dispatcher (which reads the kubeconfig first) says "context "X" does not exist".
    if let start = text.range(of: "context \""),
      let end = text[start.upperBound...].range(of: "\" does not exist")
    {
      return .contextMissing(String(text[start.upperBound..<end.lowerBound]))
    }
    if text.contains("current-context is not set") { return .contextMissing(nil) }
    // 401: kubectl words it "(Unauthorized)" or, when discovery met it first, "the server
    // has asked for the client to provide credentials"; both start alike.
    if text.contains("You must be logged in to the server") || text.contains("(Unauthorized)") {
      return .unauthenticated(action: action)
    }
    if text.contains("can't restart paused deployment") {
      return .paused(deployment: target?.name ?? "?")
    }
    // NamespaceLifecycle: `namespaces "X" not found` when creating in a missing namespace.
    if let start = text.range(of: "namespaces \""),
      let end = text[start.upperBound...].range(of: "\" not found")
    {
      return .namespaceMissing(String(text[start.upperBound..<end.lowerBound]))
    }
    if text.contains("(Forbidden)") || text.contains(" is forbidden: ") {
      let reason = text.range(of: " is forbidden: ").map {
        String(text[$0.upperBound...].prefix { $0 != "\n" })
      }
      return .forbidden(action: action, detail: reason ?? "permission denied")
    }
    if let target, text.contains("(NotFound)") || text.contains("\" not found") {
      return .notFound(kind: target.kind, name: target.name, namespace: namespaceLabel)
    }
    if text.contains("(Conflict)") || text.contains("the object has been modified") {
      return .conflict(kind: target?.kind ?? "object", name: target?.name ?? "?")
    }
    if text.contains("exceeded its progress deadline") {
      return .progressDeadlineExceeded(deployment: target?.name ?? "?")
    }
    for marker in [
      "The connection to the server", "Unable to connect to the server", "connection refused",
      "no such host", "i/o timeout", "dial tcp",
    ] where text.contains(marker) {
      let line = lines.last { $0.contains(marker) } ?? marker
      return .unreachable(Self.trimmed(line))
    }
    if carriesSecrets { return .failed(action: action, detail: nil) }
    return .failed(
      action: action, detail: Self.trimmed(last.isEmpty ? "exit \(result.status)" : last))
  }

  private static func trimmed(_ line: String) -> String {
    var text = line.trimmingCharacters(in: .whitespaces)
    for prefix in ["error: ", "Error: "] where text.hasPrefix(prefix) {
      text.removeFirst(prefix.count)
    }
    return String(text.prefix(300))
  }

  // MARK: - Context and version

  /// The context kubectl will use: the configured one (checked to exist) or the
  /// kubeconfig's current context.
  public func currentContext() async throws(KubernetesError) -> String {
    if let context = configuration.context {
      let result = try await kubectl(
        ["config", "get-contexts", "-o=name"], action: "list the kubeconfig's contexts")
      let names = result.stdoutText.split(separator: "\n").map(String.init)
      guard names.contains(context) else { throw .contextMissing(context) }
      return context
    }
    let result = try await kubectl(
      ["config", "current-context"], action: "read the current context")
    return result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Client and server versions; the server part proves the API answers.
  public func version() async throws(KubernetesError) -> KubernetesVersion {
    let action = "read the client and server versions"
    let result = try await launch(["version", "-o=json"], action: action)
    guard let wire = try? JSONDecoder().decode(VersionWire.self, from: Data(result.stdout))
    else {
      throw classify(result, action: action, target: nil, carriesSecrets: false)
    }
    guard let server = wire.serverVersion else {
      throw classify(result, action: action, target: nil, carriesSecrets: false)
    }
    return KubernetesVersion(client: wire.clientVersion.gitVersion, server: server.gitVersion)
  }

  /// `kubectl auth can-i VERB RESOURCE`: whether the current identity may do it.
  public func canI(_ verb: String, _ resource: String) async throws(KubernetesError) -> Bool {
    let action = "check whether it may \(verb) \(resource)"
    let result = try await launch(["auth", "can-i", "--", verb, resource], action: action)
    let answer = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
    if result.status == 0 && answer.hasPrefix("yes") { return true }
    if answer.hasPrefix("no") { return false }
    if result.stderrText.contains("the server could not find the requested resource") {
      // No SelfSubjectAccessReview: the server has no authorization.k8s.io/v1.
      throw .apiMissing(
        request: "kubectl auth can-i \(verb) \(resource)", api: "authorization.k8s.io")
    }
    throw classify(result, action: action, target: nil, carriesSecrets: false)
  }
}
