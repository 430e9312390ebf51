import Drift
import Foundation
import Kubernetes
import LockstepCore
import Synchronization
import TestSupport
import Testing
import Vault

extension DriftFixture {
  /// ExternalSecret manifests beside the fixture's inventory (issue 15): a multi-document
  /// file with a Secret (whose value must never show), a Deployment and two ExternalSecrets.
  /// Known drift against `env_keys.txt`: missing MINIO_SECRET_KEY, EMPTY_OK; extra
  /// STRIPE_KEY (deploy/external-secrets.yaml:23).
  func addExternalSecrets() throws {
    try FileManager.default.createDirectory(
      atPath: root + "/deploy", withIntermediateDirectories: true)
    try """
    apiVersion: v1
    kind: Secret
    metadata: {name: bootstrap}
    stringData:
      TOKEN: \(secrets[0])
    ---
    apiVersion: external-secrets.io/v1beta1
    kind: ExternalSecret
    metadata:
      name: aura-api
    spec:
      secretStoreRef: {name: vault, kind: ClusterSecretStore}
      target: {name: aura-env}
      data:
        - secretKey: DATABASE_URL
          remoteRef: {key: aura/production, property: DATABASE_URL}
        - secretKey: SESSION_SECRET
          remoteRef: {key: aura/production, property: SESSION_SECRET}
        - secretKey: IRON_SESSION_PASSWORD
          remoteRef: {key: aura/production, property: IRON_SESSION_PASSWORD}
        - secretKey: REDIS_URL
          remoteRef: {key: aura/production, property: REDIS_URL}
        - secretKey: STRIPE_KEY
          remoteRef: {key: aura/billing, property: STRIPE_KEY}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: aura-api}
    ---
    apiVersion: external-secrets.io/v1
    kind: ExternalSecret
    metadata: {name: aura-minio}
    spec:
      data:
        - secretKey: MINIO_ACCESS_KEY
          remoteRef: {key: aura/minio, property: access}

    """.write(toFile: root + "/deploy/external-secrets.yaml", atomically: true, encoding: .utf8)
  }

  func writeFile(_ path: String, _ text: String) throws {
    let full = root + "/" + path
    try FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: full))
  }
}

/// `externalsecret:` sources (issue 15): manifests in every format, `dataFrom` resolved
/// only against a `vault:` source, hostile manifests, and the cluster form's names.
@Suite struct ExternalSecretDriftTests {
  let arguments = [
    "drift", "--expect", "keys:env_keys.txt", "--against", "externalsecret:deploy/**/*.yaml",
  ]

  @Test(arguments: DriftFormat.allCases)
  func manifestsInEveryFormat(format: DriftFormat) throws {
    let fixture = try DriftFixture.make()
    try fixture.addExternalSecrets()
    let result = try fixture.run(arguments + ["--format", format.rawValue])
    #expect(result.status == 2, "\(result.stderrText)")
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
    let out = result.stdoutText
    for key in ["MINIO_SECRET_KEY", "EMPTY_OK", "STRIPE_KEY"] {
      #expect(out.contains(key), "\(format) lacks \(key)")
    }
    #expect(!out.contains("MINIO_ACCESS_KEY is expected"))
    switch format {
    case .text:
      #expect(out.contains("extra    STRIPE_KEY  (deploy/external-secrets.yaml:23)"))
      #expect(out.contains("document 3 of deploy/external-secrets.yaml is kind Deployment"))
    case .json:
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
      let report = try #require(object["report"] as? [String: Any])
      let first = try #require((report["sources"] as? [[String: Any]])?.first)
      let missing = (first["missing"] as? [[String: Any]] ?? []).compactMap {
        $0["key"] as? String
      }
      let extra = (first["extra"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
      #expect(missing == ["EMPTY_OK", "MINIO_SECRET_KEY"])
      #expect(extra == ["STRIPE_KEY"])
      #expect(first["count"] as? Int == 6)
    case .github:
      #expect(
        out.contains(
          "::error title=lockstep drift,file=deploy/external-secrets.yaml,line=23::STRIPE_KEY"))
      #expect(
        out.contains("::warning title=lockstep drift,file=deploy/external-secrets.yaml,line=1::"))
    case .junit:
      #expect(out.hasPrefix("<?xml"))
      #expect(
        out.contains(
          #"<testcase classname="externalsecret:deploy/**/*.yaml" name="MINIO_SECRET_KEY"><failure"#
        ))
    }
  }

  @Test func dataFromWithoutAVaultSourceIsReportedNotGuessed() throws {
    let fixture = try DriftFixture.make()
    try fixture.addExternalSecrets()
    try fixture.writeFile(
      "deploy/all-keys.yaml",
      """
      # every key of the production secret
      apiVersion: external-secrets.io/v1beta1
      kind: ExternalSecret
      metadata: {name: aura-all}
      spec:
        dataFrom:
          - extract:
              key: aura/production

      """)
    let result = try fixture.run(arguments)
    #expect(result.status == 1, "\(result.stdoutText)")
    #expect(
      result.stderrText.contains(
        "deploy/all-keys.yaml:7 (document 1): spec.dataFrom takes every key of aura/production, which cannot be resolved"
      ), "\(result.stderrText)")
    #expect(result.stdout.isEmpty)

    try fixture.writeFile(
      "deploy/all-keys.yaml",
      """
      apiVersion: external-secrets.io/v1beta1
      kind: ExternalSecret
      metadata: {name: aura-all}
      spec:
        dataFrom:
          - find: {name: {regexp: "^aura"}}

      """)
    let find = try fixture.run(arguments)
    #expect(find.status == 1)
    #expect(find.stderrText.contains("deploy/all-keys.yaml:6 (document 1): spec.dataFrom[0]"))
  }

  @Test func dataFromResolvesAgainstTheVaultSource() async throws {
    let vault = try await VaultTesting.shared()
    let mount = try vault.freshMount()
    let fixture = try DriftFixture.make()
    try fixture.addExternalSecrets()
    var data = SecretMap()
    for (index, key) in ["MINIO_SECRET_KEY", "EMPTY_OK", "VAULT_ONLY"].enumerated() {
      data[key] = SecretBytes(utf8: fixture.secrets[index])
    }
    let client = VaultClient(
      configuration: VaultConfiguration(
        address: vault.address, token: SecretBytes(utf8: VaultTesting.rootToken),
        retryDeadline: .seconds(3), parallelism: 2))
    try await client.write("\(mount)/aura/production", data)
    try fixture.writeFile(
      "deploy/all-keys.yaml",
      """
      apiVersion: external-secrets.io/v1beta1
      kind: ExternalSecret
      metadata: {name: aura-all}
      spec:
        dataFrom:
          - extract: {key: aura/production}

      """)
    let home = try TemporaryDirectory.make(prefix: "drift-home")
    _ = FileManager.default.createFile(
      atPath: home + "/.vault-token", contents: Data(VaultTesting.rootToken.utf8),
      attributes: [.posixPermissions: 0o600])
    let result = try fixture.run(
      arguments + ["vault:\(mount)/aura/production", "--format", "json"],
      environment: ["PATH": "/usr/bin:/bin", "VAULT_ADDR": vault.address, "HOME": home])
    #expect(result.status == 2, "\(result.stderrText)")
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
    let report = try #require(object["report"] as? [String: Any])
    let first = try #require((report["sources"] as? [[String: Any]])?.first)
    let missing = (first["missing"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
    let extra = (first["extra"] as? [[String: Any]] ?? []).compactMap { $0 as [String: Any] }
    #expect(missing.isEmpty, "dataFrom brought MINIO_SECRET_KEY and EMPTY_OK: \(missing)")
    let vaultOnly = try #require(extra.first { $0["key"] as? String == "VAULT_ONLY" })
    #expect(vaultOnly["file"] as? String == "deploy/all-keys.yaml")
    #expect(vaultOnly["line"] as? Int == 6)
  }

  @Test func hostileManifestsEndInOneSentence() throws {
    let fixture = try DriftFixture.make()
    try fixture.addExternalSecrets()
    let control = "BAD\u{1B}[31m\u{07}" + fixture.secrets[1]
    try fixture.writeFile(
      "deploy/control.yaml",
      """
      apiVersion: external-secrets.io/v1beta1
      kind: ExternalSecret
      metadata: {name: x}
      spec:
        data:
          - secretKey: OK_KEY
          - secretKey: "\(control.replacingOccurrences(of: "\u{1B}", with: "\\e").replacingOccurrences(of: "\u{07}", with: "\\a"))"

      """)
    let controlled = try fixture.run(arguments)
    #expect(controlled.status == 1)
    #expect(
      controlled.stderrText
        == "lockstep: cannot read externalsecret:deploy/**/*.yaml: deploy/control.yaml:7 (document 1): spec.data[1].secretKey is not a valid Secret key name\n"
    )
    #expect(fixture.leaksNothing(controlled.stdoutText + controlled.stderrText))
    #expect(!controlled.stderrText.contains("\u{1B}"))
    try FileManager.default.removeItem(atPath: fixture.root + "/deploy/control.yaml")

    // Nested 100,000 levels deep: refused before the YAML parser can recurse.
    let nested =
      "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nspec:\n  data: "
      + String(repeating: "[", count: 100_000) + fixture.secrets[2] + "\n"
    try fixture.writeFile("deploy/nested.yaml", nested)
    let deep = try fixture.run(arguments)
    #expect(deep.status == 1)
    #expect(deep.stderrText.contains("deploy/nested.yaml:4 nests deeper than 64 levels"))
    #expect(fixture.leaksNothing(deep.stdoutText + deep.stderrText))
    try FileManager.default.removeItem(atPath: fixture.root + "/deploy/nested.yaml")

    // Block nesting, one level a line.
    var block = "apiVersion: v1\nkind: ExternalSecret\nspec:\n"
    for depth in 1...200 { block += String(repeating: " ", count: depth) + "k:\n" }
    try fixture.writeFile("deploy/block.yaml", block)
    let blocked = try fixture.run(arguments)
    #expect(blocked.status == 1)
    #expect(blocked.stderrText.contains("deploy/block.yaml:"))
    #expect(blocked.stderrText.contains("nests deeper than 64 levels"))
    try FileManager.default.removeItem(atPath: fixture.root + "/deploy/block.yaml")

    // A billion-laughs alias tree: aliases are shared, never expanded, and never walked.
    var laughs = "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nx0: &a0 [lol, lol]\n"
    for level in 1...30 { laughs += "x\(level): &a\(level) [*a\(level - 1), *a\(level - 1)]\n" }
    laughs += "spec:\n  data:\n    - secretKey: DATABASE_URL\n  other: *a30\n"
    try fixture.writeFile("deploy/laughs.yaml", laughs)
    let started = ContinuousClock.now
    let laughed = try fixture.run(arguments)
    #expect(laughed.status == 2, "\(laughed.stderrText)")
    #expect(ContinuousClock.now - started < .seconds(30))
    try FileManager.default.removeItem(atPath: fixture.root + "/deploy/laughs.yaml")

    // Larger than 1 MiB.
    let huge =
      "kind: ExternalSecret\nspec:\n  note: " + fixture.secrets[3]
      + String(repeating: "x", count: 1 << 20) + "\n"
    try fixture.writeFile("deploy/huge.yaml", huge)
    let big = try fixture.run(arguments)
    #expect(big.status == 1)
    #expect(big.stderrText.contains("deploy/huge.yaml is larger than 1 MiB"))
    #expect(fixture.leaksNothing(big.stdoutText + big.stderrText))
    try FileManager.default.removeItem(atPath: fixture.root + "/deploy/huge.yaml")

    // Invalid YAML whose parser message would quote a value.
    try fixture.writeFile(
      "deploy/broken.yaml",
      "kind: ExternalSecret\nspec:\n  data: [\"\(fixture.secrets[4])\n  x: }\n")
    let broken = try fixture.run(arguments)
    #expect(broken.status == 1)
    #expect(broken.stderrText.contains("deploy/broken.yaml:"))
    #expect(broken.stderrText.contains("is not valid YAML"))
    #expect(fixture.leaksNothing(broken.stdoutText + broken.stderrText))
    try FileManager.default.removeItem(atPath: fixture.root + "/deploy/broken.yaml")

    // Only other kinds: a warning per document, and the source holds no ExternalSecret.
    try fixture.writeFile(
      "other/secret.yaml",
      "apiVersion: v1\nkind: Secret\nstringData: {A: \(fixture.secrets[5])}\n---\nkind: \"\\e]0;x\"\n"
    )
    let other = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "externalsecret:other/*.yaml",
    ])
    #expect(other.status == 1)
    #expect(
      other.stderrText
        == "lockstep: cannot read externalsecret:other/*.yaml: it holds no ExternalSecret\n")
    #expect(fixture.leaksNothing(other.stdoutText + other.stderrText))
  }

  @Test func otherKindsAreSkippedWithTheirDocumentIndex() throws {
    let fixture = try DriftFixture.make()
    try fixture.addExternalSecrets()
    try fixture.writeFile(
      "deploy/z-other.yaml", "---\nkind: \"\\e]0;title\\a\"\nvalue: \(fixture.secrets[4])\n")
    let result = try fixture.run(arguments)
    #expect(result.status == 2)
    #expect(
      result.stdoutText.contains(
        "deploy/z-other.yaml:2: document 1 of deploy/z-other.yaml is another kind, not an ExternalSecret; skipped"
      ), "\(result.stdoutText)")
    #expect(!result.stdoutText.contains("\u{1B}"))
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
  }

  @Test func clusterFormChecksNamesBeforeKubectl() throws {
    #expect(
      try SourceSpec(parsing: "externalsecret:k8s:aura/aura-api")
        == .externalSecretCluster(namespace: "aura", name: "aura-api"))
    #expect(
      try SourceSpec(parsing: "externalsecret:k8s:aura")
        == .externalSecretCluster(namespace: "aura", name: nil))
    #expect(
      try SourceSpec(parsing: "externalsecret:deploy/*.yaml")
        == .externalSecret(glob: "deploy/*.yaml"))
    for bad in [
      "externalsecret:k8s:--kubeconfig=evil", "externalsecret:k8s:aura/--as=admin",
      "externalsecret:k8s:Aura", "externalsecret:k8s:aura/a/b", "externalsecret:k8s:",
      "externalsecret:k8s:aura/", "externalsecret:k8s:-aura",
    ] {
      #expect(throws: DriftError.badSource(bad)) { try SourceSpec(parsing: bad) }
    }
    let fixture = try DriftFixture.make()
    let refused = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "externalsecret:k8s:aura/--as=x",
    ])
    #expect(refused.status == 64)
    #expect(refused.stderrText.contains("is not a source"))
  }

  @Test func clusterObjectsAreReadLikeManifests() async throws {
    struct Recorded: ExternalSecretObjectSource {
      let answer: [UInt8]
      func externalSecretObjects(namespace: String, name: String?) async throws -> [UInt8] {
        answer
      }
    }
    // kubectl's List answer, as `get externalsecrets.external-secrets.io -o json` prints it.
    let list = """
      {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
         "metadata": {"name": "a", "namespace": "aura"},
         "spec": {"data": [{"secretKey": "DATABASE_URL", "remoteRef": {"key": "aura/production"}},
                           {"secretKey": "REDIS_URL", "remoteRef": {"key": "aura/production"}}]}},
        {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
         "metadata": {"name": "b", "namespace": "aura"},
         "spec": {"data": [{"secretKey": "MINIO_ACCESS_KEY", "remoteRef": {"key": "aura/minio"}}]}}
      ]}
      """
    var connections = DriftConnections(environmentNames: { [] })
    connections.externalSecrets = Recorded(answer: Array(list.utf8))
    let inventory = try await SourceLoader(connections: connections).load(
      .externalSecretCluster(namespace: "aura", name: nil))
    #expect(inventory.sortedNames == ["DATABASE_URL", "MINIO_ACCESS_KEY", "REDIS_URL"])
    #expect(inventory.location(of: "DATABASE_URL") == nil)
  }
}

/// The cluster form with the real kubectl against the Kubernetes stand-in (which serves
/// `externalsecrets.external-secrets.io` for this test: list, get, create).
@Suite struct ExternalSecretClusterTests {
  @Test func clusterFormThroughKubectl() async throws {
    let standIn = try await KubernetesStandIn.shared()
    let namespace = try standIn.newNamespace("drift-es")
    let fixture = try DriftFixture.make()
    func create(_ name: String, _ keys: [String]) throws {
      let body: [String: Any] = [
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": ["name": name],
        "spec": [
          "data": keys.map { ["secretKey": $0, "remoteRef": ["key": "aura/production"]] }
        ],
      ]
      let response = try standIn.request(
        "POST", "/apis/external-secrets.io/v1/namespaces/\(namespace)/externalsecrets",
        json: body)
      #expect(response.status == 201, "\(response.text)")
    }
    try create("aura-api", ["DATABASE_URL", "SESSION_SECRET", "IRON_SESSION_PASSWORD"])
    try create("aura-cache", ["REDIS_URL", "MINIO_ACCESS_KEY", "OLD_KEY"])

    var environment = try KubernetesStandIn.kubectlEnvironment()
    environment["KUBECONFIG"] = standIn.kubeconfig
    let all = try fixture.run(
      [
        "drift", "--expect", "keys:env_keys.txt", "--against", "externalsecret:k8s:\(namespace)",
        "--format", "json",
      ], environment: environment)
    #expect(all.status == 2, "\(all.stderrText)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(all.stdout)) as? [String: Any])
    let report = try #require(object["report"] as? [String: Any])
    let first = try #require((report["sources"] as? [[String: Any]])?.first)
    let missing = (first["missing"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
    let extra = (first["extra"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
    #expect(missing == ["EMPTY_OK", "MINIO_SECRET_KEY"])
    #expect(extra == ["OLD_KEY"])

    let one = try fixture.run(
      [
        "drift", "--expect", "keys:env_keys.txt", "--against",
        "externalsecret:k8s:\(namespace)/aura-api", "--direction", "against-to-expect",
      ], environment: environment)
    #expect(one.status == 0, "\(one.stdoutText)\(one.stderrText)")

    let absent = try fixture.run(
      [
        "drift", "--expect", "keys:env_keys.txt", "--against",
        "externalsecret:k8s:\(namespace)/nope",
      ], environment: environment)
    #expect(absent.status == 1)
    #expect(absent.stderrText.contains("cannot read externalsecret:k8s:\(namespace)/nope"))

    // The name reaches kubectl after `--`, the resource fully qualified.
    let seen = Mutex<[[String]]>([])
    let client = KubectlClient(
      .init(
        kubeconfig: standIn.kubeconfig, namespace: namespace,
        environment: try KubernetesStandIn.kubectlEnvironment()),
      recorder: { invocation in seen.withLock { $0.append(invocation.arguments) } })
    _ = try await client.externalSecretObjects(named: "aura-api")
    let arguments = try #require(seen.withLock { $0.last })
    #expect(
      Array(arguments.suffix(5)) == [
        "get", "externalsecrets.external-secrets.io", "-o=json", "--", "aura-api",
      ])
  }
}
