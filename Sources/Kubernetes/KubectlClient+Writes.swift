import LockstepCore

extension KubectlClient {
  /// Creates Secret `name` or updates it, with the values going to kubectl's stdin as JSON.
  ///
  /// By default only the given keys change (a merge patch), so the other keys of the Secret
  /// survive: the runbook's `kv put` flaw, not repeated here. `replaceAllKeys` makes the
  /// Secret hold exactly `data` (`kubectl replace`). `kubectl apply` is not used: it would
  /// copy every value into the `last-applied-configuration` annotation in plain text.
  public func applySecret(
    _ name: String, data: [String: SecretBytes], replaceAllKeys: Bool = false
  ) async throws(KubernetesError) {
    _ = try KubernetesName.checked(name, as: .secret)
    let entries = data.keys.sorted().map { ($0, SecretJSON.secretBase64(data[$0]!)) }
    let target = (kind: "secret", name: name)
    func full(type: String) -> SecretBytes {
      SecretJSON.object([
        ("apiVersion", .string("v1")), ("kind", .string("Secret")),
        ("metadata", .object([("name", .string(name))])), ("type", .string(type)),
        ("data", .object(entries)),
      ]).render()
    }
    do {
      if replaceAllKeys {
        // A Secret's type never changes (ValidateSecretUpdate), and a replace without one
        // means Opaque: keep the type the Secret has. Only the type is read, no value.
        let type = try await kubectl(
          ["get", "secret", "-o=jsonpath={.type}", "--", name],
          action: "read the type of secret \"\(name)\"", target: target
        ).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        try await kubectl(
          ["replace", "-f", "-", "--validate=false"], action: "replace secret \"\(name)\"",
          target: target, stdin: full(type: type.isEmpty ? "Opaque" : type))
      } else {
        try await kubectl(
          ["patch", "secret", "--type=merge", "--patch-file=/dev/stdin", "--", name],
          action: "update secret \"\(name)\"", target: target,
          stdin: SecretJSON.object([("data", .object(entries))]).render())
      }
    } catch {
      guard case .notFound = error else { throw error }
      try await kubectl(
        ["create", "-f", "-", "--validate=false"], action: "create secret \"\(name)\"",
        target: target, stdin: full(type: "Opaque"))
    }
  }

  /// Sets literal env values on one container (mode `env`), by strategic merge on stdin:
  /// other variables and containers are untouched. The patch carries the resourceVersion
  /// the container was found in (or the one given), so a concurrent change answers
  /// `conflict` instead of being overwritten.
  public func setEnv(
    deployment: String, container: String, values: [String: SecretBytes],
    resourceVersion: String? = nil
  ) async throws(KubernetesError) {
    try await setEnv(
      .deployment, deployment, container: container, values: values,
      resourceVersion: resourceVersion)
  }

  /// `setEnv` on a Deployment, StatefulSet or DaemonSet.
  public func setEnv(
    _ kind: WorkloadKind, _ deployment: String, container: String, values: [String: SecretBytes],
    resourceVersion: String? = nil
  ) async throws(KubernetesError) {
    for (key, value) in values where !SecretJSON.isUTF8(value) {
      throw .invalidValue(key: key, reason: "environment values must be UTF-8 text")
    }
    let env = values.keys.sorted().map { key in
      SecretJSON.object([
        ("name", .string(key)), ("value", .secretString(values[key]!)), ("valueFrom", .null),
      ])
    }
    try await patchEnv(
      kind, deployment: deployment, container: container, env: env,
      resourceVersion: resourceVersion)
  }

  /// Points variables at Secret keys (`valueFrom.secretKeyRef`, mode `secret`): the
  /// deployment spec then holds names only, and a rotation updates the Secret.
  public func setEnvFromSecret(
    deployment: String, container: String, references: [String: SecretKeyReference]
  ) async throws(KubernetesError) {
    for reference in references.values {
      _ = try KubernetesName.checked(reference.secret, as: .secret)
    }
    let env = references.keys.sorted().map { name in
      let reference = references[name]!
      return SecretJSON.object([
        ("name", .string(name)), ("value", .null),
        (
          "valueFrom",
          .object([
            (
              "secretKeyRef",
              .object([("name", .string(reference.secret)), ("key", .string(reference.key))])
            )
          ])
        ),
      ])
    }
    try await patchEnv(
      .deployment, deployment: deployment, container: container, env: env, resourceVersion: nil)
  }

  /// How many times an unpinned env patch is re-read and re-sent after a conflict.
  public static let conflictAttempts = 5

  /// Patches with the version just read. Unless the caller pinned a version, a conflict is
  /// retried from a fresh read: the deployment controller bumps the resourceVersion with
  /// every status update while a rollout runs, which is not a change to the spec this patch
  /// is about (client-go's `RetryOnConflict` does the same).
  private func patchEnv(
    _ kind: WorkloadKind, deployment: String, container: String, env: [SecretJSON],
    resourceVersion: String?
  ) async throws(KubernetesError) {
    var attempt = 1
    while true {
      do {
        try await patchEnvOnce(
          kind, deployment: deployment, container: container, env: env,
          resourceVersion: resourceVersion)
        return
      } catch {
        guard case .conflict = error, resourceVersion == nil, attempt < Self.conflictAttempts
        else { throw error }
        attempt += 1
        try? await Task.sleep(for: .milliseconds(20 * attempt))
      }
    }
  }

  private func patchEnvOnce(
    _ kind: WorkloadKind, deployment: String, container: String, env: [SecretJSON],
    resourceVersion: String?
  ) async throws(KubernetesError) {
    // Strategic merge would add a container that does not exist (and the API would then
    // reject it for lack of an image): check first, and pin the version that was checked.
    _ = try KubernetesName.checked(container, as: .container)
    let current = try await workload(kind, deployment)
    guard current.container(named: container) != nil else {
      throw .notFound(kind: "container", name: container, namespace: current.namespace)
    }
    let patch = SecretJSON.object([
      (
        "metadata",
        .object([("resourceVersion", .string(resourceVersion ?? current.resourceVersion))])
      ),
      (
        "spec",
        .object([
          (
            "template",
            .object([
              (
                "spec",
                .object([
                  (
                    "containers",
                    .array([.object([("name", .string(container)), ("env", .array(env))])])
                  )
                ])
              )
            ])
          )
        ])
      ),
    ]).render()
    try await kubectl(
      ["patch", kind.resource, "--type=strategic", "--patch-file=/dev/stdin", "--", deployment],
      action: "patch the env of \(kind.label(deployment))",
      target: (kind: kind.rawValue, name: deployment), stdin: patch)
  }
}
