import Foundation
import LockstepCore
import TestSupport
import Testing
import Yams

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 17: every file under `templates/` and the recipes of docs/env.md run as written,
/// against the local stack. A template's own command lines are executed unchanged except
/// for one mapping: absolute paths under `/etc/lockstep`, `/var` and `/usr/local/bin` move
/// into a sandbox (`Sandbox.map`), and the recipient placeholder becomes a real recipient.
/// So a flag added to a template later is exercised too; a new file it reads must be
/// created in `Sandbox.prepare`.
@Suite(.serialized) struct TemplateTests {
  static let templates = Repository.root + "/templates"

  /// A fresh OpenBao (its `secret/` mount, as the templates name it) holding `aura/…`, a
  /// fresh moto with the templates' bucket, and a sandbox for the paths templates name.
  struct Sandbox {
    let root: String
    let vault: LocalService
    let s3: LocalService
    let recipient: String

    var binary: String { root + "/usr/local/bin/lockstep" }

    /// The plain `KEY=value` file both cron and systemd read, as an operator writes it.
    var backupEnv: String {
      """
      VAULT_ADDR=http://127.0.0.1:\(vault.port)
      AWS_REGION=us-east-1
      AWS_ACCESS_KEY_ID=\(s3.s3AccessKeyID)
      AWS_SECRET_ACCESS_KEY=\(s3.s3SecretAccessKey)
      AWS_ENDPOINT_URL=http://127.0.0.1:\(s3.port)

      """
    }

    static func prepare(vault: LocalService, s3: LocalService) throws -> Sandbox {
      let root = try TemporaryDirectory.make(prefix: "templates")
      let manager = FileManager.default
      for directory in [
        "etc/lockstep", "usr/local/bin", "var/backups/lockstep", "var/lib/lockstep-backup",
        "var/lib/node_exporter/textfile", "var/run/lockstep", "var/run/lockstep-metrics",
      ] {
        try manager.createDirectory(
          atPath: root + "/" + directory, withIntermediateDirectories: true)
      }
      try manager.createSymbolicLink(
        atPath: root + "/usr/local/bin/lockstep", withDestinationPath: Repository.lockstepBinary)
      for file in ["etc/lockstep/vault-token", "var/run/lockstep/vault-token"] {
        _ = manager.createFile(
          atPath: root + "/" + file, contents: Data("root".utf8),
          attributes: [.posixPermissions: 0o600])
      }
      let keygen = try CLI.run(["keygen", "--out", root + "/etc/lockstep/backup-identity.txt"])
      guard keygen.succeeded else { throw UserError("keygen: \(keygen.stderrText)") }
      // The templates sign their backups: cron and systemd with the key in /etc/lockstep,
      // the CronJob with the one its Secret mounts under /var/run/lockstep/signing.
      try manager.createDirectory(
        atPath: root + "/var/run/lockstep/signing", withIntermediateDirectories: true)
      for key in [
        "/etc/lockstep/backup-signing.key", "/var/run/lockstep/signing/backup-signing.key",
      ] {
        let signing = try CLI.run(["keygen", "--signing", "--out", root + key])
        guard signing.succeeded else { throw UserError("keygen: \(signing.stderrText)") }
      }
      let recipient = keygen.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
      let sandbox = Sandbox(root: root, vault: vault, s3: s3, recipient: recipient)
      _ = manager.createFile(
        atPath: root + "/etc/lockstep/backup.env", contents: Data(sandbox.backupEnv.utf8),
        attributes: [.posixPermissions: 0o600])
      // The data the templates back up (`--mount secret --prefix aura/`) and their bucket.
      _ = try vault.vaultCall(
        "POST", "secret/data/aura/production", body: #"{"data":{"SESSION_SECRET":"s"}}"#)
      try s3.createBucket("aura-backups")
      return sandbox
    }

    /// Configures OpenBao's JWT auth method at `path` with a key pair made here, a role
    /// holding only policies/vault/lockstep-backup.hcl, and writes a token it accepts (as
    /// the kubelet writes a projected service-account token) to `tokenFile`.
    func serveJWTLogin(path: String, role: String, tokenFile: String) throws {
      let tool = Repository.root + "/Tests/Support/jwt_tool.py"
      let keys = try TemporaryDirectory.make(prefix: "template-jwt")
      guard try ChildProcess.run("python3", [tool, "keygen", keys]).succeeded else {
        throw UserError("jwt_tool keygen failed")
      }
      let policy = try String(
        contentsOfFile: Repository.root + "/policies/vault/lockstep-backup.hcl", encoding: .utf8)
      func json(_ object: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
      }
      _ = try vault.vaultCall(
        "POST", "sys/policies/acl/lockstep-backup", body: try json(["policy": policy]))
      _ = try vault.vaultCall("POST", "sys/auth/\(path)", body: #"{"type":"jwt"}"#)
      let publicKey = try String(contentsOfFile: keys + "/jwt-pub.pem", encoding: .utf8)
      _ = try vault.vaultCall(
        "POST", "auth/\(path)/config",
        body: try json([
          "jwt_validation_pubkeys": [publicKey],
          "bound_issuer": "https://kubernetes.default.svc",
        ]))
      _ = try vault.vaultCall(
        "POST", "auth/\(path)/role/\(role)",
        body: try json([
          "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["openbao"],
          "bound_subject": "system:serviceaccount:backup:lockstep",
          "token_policies": ["lockstep-backup"], "token_ttl": "5m",
        ]))
      let claims =
        #"{"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:backup:lockstep","aud":["openbao"],"iat":-5,"nbf":-5,"exp":600}"#
      let signed = try ChildProcess.run("python3", [tool, "sign", keys + "/jwt-key.pem", claims])
      guard signed.succeeded else { throw UserError("jwt_tool sign failed") }
      try FileManager.default.createDirectory(
        atPath: (tokenFile as NSString).deletingLastPathComponent,
        withIntermediateDirectories: true)
      _ = FileManager.default.createFile(
        atPath: tokenFile, contents: Data(signed.stdout), attributes: [.posixPermissions: 0o600])
    }

    /// The template's text with its absolute paths moved into the sandbox.
    func map(_ text: String) -> String {
      var mapped = text.replacingOccurrences(
        of: "lockstep1REPLACE_WITH_YOUR_RECIPIENT", with: recipient)
      for prefix in ["/etc/lockstep", "/var/", "/usr/local/bin/"] {
        mapped = mapped.replacingOccurrences(
          of: #"(?<![\w./-])\#(NSRegularExpression.escapedPattern(for: prefix))"#,
          with: root + prefix, options: .regularExpression)
      }
      return mapped
    }

    /// What cron gives a job: a minimal environment.
    var cronEnvironment: [String: String] {
      ["PATH": "/usr/bin:/bin", "HOME": root, "LOGNAME": "root", "SHELL": "/bin/sh"]
    }

    /// Backups made so far, locally and in the bucket.
    func backups(in directory: String) -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: root + directory)) ?? [])
        .filter { $0.hasSuffix(".lsb") }
    }

    func objects() throws -> [String] {
      var environment = cronEnvironment
      for line in backupEnv.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
        environment[parts[0]] = parts[1]
      }
      let listing = try ChildProcess.run(
        Repository.lockstepBinary, ["backup", "list", "s3://aura-backups/vault/"],
        environment: environment, timeout: .seconds(60))
      return listing.stdoutText.split(separator: "\n").map(String.init)
    }
  }

  func withSandbox(_ body: (Sandbox) throws -> Void) async throws {
    try await withLocalService(.vault) { vault in
      try await withLocalService(.s3) { s3 in
        try body(try Sandbox.prepare(vault: vault, s3: s3))
      }
    }
  }

  // MARK: - cron

  static func cronJobs() throws -> [String] {
    let text = try String(
      contentsOfFile: templates + "/cron/lockstep-backup.crontab", encoding: .utf8)
    // Job lines start with a time field; comments and `NAME=value` lines do not.
    return text.split(separator: "\n").map(String.init).filter {
      $0.first?.isNumber == true || $0.hasPrefix("*") || $0.hasPrefix("@")
    }
  }

  /// `/etc/cron.d` format: five time fields, the user, then the command for `SHELL`.
  static func command(ofCronLine line: String) -> String {
    var rest = Substring(line)
    for _ in 0..<6 {
      rest = rest.drop { $0 == " " || $0 == "\t" }
      rest = rest.drop { $0 != " " && $0 != "\t" }
    }
    return String(rest.drop { $0 == " " || $0 == "\t" })
  }

  @Test func cronLineRunsUnderShWithTheSystemdEnvironmentFile() async throws {
    let jobs = try Self.cronJobs()
    #expect(jobs.count == 1, "\(jobs)")
    try await withSandbox { sandbox in
      let command = sandbox.map(Self.command(ofCronLine: jobs[0]))
      let result = try ChildProcess.run(
        "/bin/sh", ["-c", command], environment: sandbox.cronEnvironment, timeout: .seconds(120))
      #expect(result.status == 0, "\(result.stderrText)")
      #expect(sandbox.backups(in: "/var/backups/lockstep").count == 1)
      #expect(try sandbox.objects().count == 1)
      let metrics = sandbox.root + "/var/lib/node_exporter/textfile/lockstep_backup.prom"
      #expect(FileManager.default.fileExists(atPath: metrics))

      // No textfile directory (node_exporter not installed): still a backup, and the
      // prune still runs.
      try FileManager.default.removeItem(atPath: sandbox.root + "/var/lib/node_exporter")
      let second = try ChildProcess.run(
        "/bin/sh", ["-c", command], environment: sandbox.cronEnvironment, timeout: .seconds(120))
      #expect(second.status == 0, "\(second.stderrText)")
      #expect(second.stderrText.contains("metrics file"), "\(second.stderrText)")
    }
  }

  // MARK: - systemd

  static func unit(_ name: String) throws -> [(key: String, value: String)] {
    let text = try String(contentsOfFile: templates + "/systemd/" + name, encoding: .utf8)
    return text.split(separator: "\n").compactMap { line in
      guard !line.hasPrefix("#"), !line.hasPrefix("["), let equals = line.firstIndex(of: "=")
      else { return nil }
      return (String(line[..<equals]), String(line[line.index(after: equals)...]))
    }
  }

  @Test func systemdUnitsVerify() throws {
    guard let analyze = ChildProcess.which("systemd-analyze") else { return }
    let directory = try TemporaryDirectory.make(prefix: "units")
    for name in ["lockstep-backup.service", "lockstep-backup.timer"] {
      try FileManager.default.copyItem(
        atPath: Self.templates + "/systemd/" + name, toPath: directory + "/" + name)
    }
    let result = try ChildProcess.run(
      analyze,
      ["verify", directory + "/lockstep-backup.service", directory + "/lockstep-backup.timer"],
      timeout: .seconds(60))
    let complaints = result.stderrText.split(separator: "\n").filter {
      $0.contains("lockstep-backup")
    }
    #expect(result.status == 0, "\(result.stderrText)")
    #expect(complaints.isEmpty, "\(complaints)")
  }

  /// The service's ExecStart lines in order, with what systemd gives them: the variables of
  /// EnvironmentFile, the credentials of LoadCredential in CREDENTIALS_DIRECTORY.
  @Test func systemdServiceRunsItsExecStartLines() async throws {
    let unit = try Self.unit("lockstep-backup.service")
    try await withSandbox { sandbox in
      var environment: [String: String] = ["PATH": "/usr/bin:/bin"]
      for (key, value) in unit where key == "EnvironmentFile" {
        let text = try String(
          contentsOfFile: sandbox.map(value.trimmingCharacters(in: ["-"])), encoding: .utf8)
        for line in text.split(separator: "\n") where line.contains("=") {
          let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
          environment[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
      }
      let credentials = sandbox.root + "/credentials"
      try FileManager.default.createDirectory(
        atPath: credentials, withIntermediateDirectories: true)
      for (key, value) in unit where key == "LoadCredential" {
        let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
        try FileManager.default.copyItem(
          atPath: sandbox.map(parts[1]), toPath: credentials + "/" + parts[0])
      }
      environment["CREDENTIALS_DIRECTORY"] = credentials
      let lines = unit.filter { $0.key == "ExecStart" }.map(\.value)
      #expect(lines.count >= 2)
      for line in lines {
        let result = try ChildProcess.run(
          "/bin/sh", ["-c", sandbox.map(line)], environment: environment, timeout: .seconds(120))
        #expect(result.status == 0, "\(line): \(result.stderrText)")
        if result.status != 0 { break }
      }
      #expect(sandbox.backups(in: "/var/lib/lockstep-backup").count == 1)
      #expect(try sandbox.objects().count == 1)
    }
  }

  // MARK: - Kubernetes CronJob

  @Test func cronJobScriptRunsWithItsEnvironmentAndMounts() async throws {
    let text = try String(
      contentsOfFile: Self.templates + "/k8s/backup-cronjob.yaml", encoding: .utf8)
    let document = try #require(try Yams.load(yaml: text) as? [String: Any])
    #expect(document["kind"] as? String == "CronJob")
    let pod = try #require(
      ((((document["spec"] as? [String: Any])?["jobTemplate"] as? [String: Any])?["spec"]
        as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
    let container = try #require((pod["containers"] as? [[String: Any]])?.first)
    let command = try #require(container["command"] as? [String])
    let args = try #require(container["args"] as? [String])
    #expect(command == ["/bin/sh", "-c"])
    #expect(container["image"] is String)
    // The image is the repository's Dockerfile, whose user is the pod's runAsUser.
    let dockerfile = try String(
      contentsOfFile: Repository.root + "/Dockerfile", encoding: .utf8)
    let user = ((pod["securityContext"] as? [String: Any])?["runAsUser"] as? Int).map(String.init)
    #expect(dockerfile.contains("USER \(user ?? "?")"))

    try await withSandbox { sandbox in
      var environment = ["PATH": sandbox.root + "/usr/local/bin:/usr/bin:/bin"]
      for variable in container["env"] as? [[String: Any]] ?? [] {
        if let name = variable["name"] as? String, let value = variable["value"] as? String {
          environment[name] = sandbox.map(value)
        }
      }
      // The job logs in to Vault with its projected service-account token (no Vault token
      // anywhere): the sandbox's OpenBao gets the JWT method at the template's auth path, and
      // the kubelet's part, a signed token at the template's VAULT_JWT_FILE, is played here.
      let jwtFile = try #require(environment["VAULT_JWT_FILE"])
      try sandbox.serveJWTLogin(
        path: try #require(environment["VAULT_AUTH_PATH"]),
        role: try #require(environment["VAULT_JWT_ROLE"]), tokenFile: jwtFile)
      // Values that name the operator's servers point at the local stack; static keys stand
      // in for the web-identity exchange, which S3Tests' CronJob test covers against moto.
      environment["VAULT_ADDR"] = "http://127.0.0.1:\(sandbox.vault.port)"
      environment["AWS_ACCESS_KEY_ID"] = sandbox.s3.s3AccessKeyID
      environment["AWS_SECRET_ACCESS_KEY"] = sandbox.s3.s3SecretAccessKey
      environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:\(sandbox.s3.port)"
      let result = try ChildProcess.run(
        command[0], [command[1], sandbox.map(args[0])], environment: environment,
        timeout: .seconds(120))
      #expect(result.status == 0, "\(result.stderrText)")
      #expect(try sandbox.objects().count == 1)
    }
  }

  /// Every shared library the binary needs (DT_NEEDED, Swift's own aside, which the image
  /// links statically) comes from a package the Dockerfile's final stage installs.
  @Test func dockerfileInstallsEveryLibraryTheBinaryLinks() throws {
    let dockerfile = try String(
      contentsOfFile: Repository.root + "/Dockerfile", encoding: .utf8)
    let finalStage = try #require(dockerfile.components(separatedBy: "\nFROM ").last)
    let needed = try ChildProcess.run(
      "sh",
      ["-c", "objdump -p \"$1\" | awk '/NEEDED/ {print $2}'", "sh", Repository.lockstepBinary])
    let base: Set = ["libc6", "libgcc-s1", "libstdc++6", "zlib1g"]
    var missing: [String] = []
    for library in needed.stdoutText.split(separator: "\n").map(String.init)
    where !library.hasPrefix("libswift") && !library.hasPrefix("libFoundation")
      && !library.hasPrefix("lib_FoundationICU") && !library.hasPrefix("libdispatch")
      && !library.hasPrefix("libBlocksRuntime")
    {
      let owner = try ChildProcess.run(
        "sh", ["-c", "dpkg -S \"*/$1\" | head -1 | cut -d: -f1", "sh", library])
      let package = owner.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
      if package.isEmpty || base.contains(package) { continue }
      if !finalStage.contains(package) { missing.append("\(library) (\(package))") }
    }
    #expect(missing.isEmpty, "the image lacks \(missing)")
    #expect(finalStage.contains("USER 65532"))
  }

  // MARK: - GitHub Actions and the generic CI step

  /// An application repository: an inventory, code naming some of its keys, the drift
  /// policy shipped in policies/drift.
  func applicationRepository(extraCodeKey: String? = nil) throws -> String {
    let root = try TemporaryDirectory.make(prefix: "app")
    let manager = FileManager.default
    try manager.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
    try manager.createDirectory(atPath: root + "/policies/drift", withIntermediateDirectories: true)
    try "DATABASE_URL\nSESSION_SECRET\nBUILT_AT_RUN_TIME\n".write(
      toFile: root + "/env_keys.txt", atomically: true, encoding: .utf8)
    var code = "const db = process.env.DATABASE_URL;\nconst s = process.env.SESSION_SECRET;\n"
    if let extraCodeKey { code += "const x = process.env.\(extraCodeKey);\n" }
    try code.write(toFile: root + "/src/server.js", atomically: true, encoding: .utf8)
    try manager.copyItem(
      atPath: Repository.root + "/policies/drift/aura-sign.yaml",
      toPath: root + "/policies/drift/aura-sign.yaml")
    return root
  }

  /// `docker run [--rm] [--network host] [-v SRC:DST[:ro]]... [-w DIR] [-e NAME[=V]]...
  /// IMAGE ARGS`: runs the local lockstep with the mounts mapped back to their sources, as
  /// the image built from the Dockerfile would run it.
  static let dockerShim = #"""
    #!/usr/bin/env python3
    import os, sys
    args = sys.argv[1:]
    assert args[0] == "run", args
    args = args[1:]
    mounts, env, workdir = [], {"PATH": os.environ["PATH"]}, None
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("--rm",):
            continue
        if flag == "--network":
            args.pop(0); continue
        if flag == "-v":
            src, dst = args.pop(0).split(":")[:2]; mounts.append((dst, src)); continue
        if flag == "-w":
            workdir = args.pop(0); continue
        if flag == "-e":
            item = args.pop(0)
            if "=" in item:
                k, v = item.split("=", 1); env[k] = v
            elif item in os.environ:
                env[item] = os.environ[item]
            continue
        sys.exit("docker shim: unknown flag " + flag)
    image = args.pop(0)
    assert image == os.environ["EXPECTED_IMAGE"], image
    def unmount(text):
        for dst, src in sorted(mounts, key=lambda m: -len(m[0])):
            if text == dst or text.startswith(dst + "/"):
                return src + text[len(dst):]
        return text
    env = {k: unmount(v) for k, v in env.items()}
    env.setdefault("HOME", os.environ.get("HOME", "/"))
    for k in ("KUBECACHEDIR",):
        if k in os.environ: env[k] = os.environ[k]
    os.chdir(unmount(workdir or "/"))
    os.execve(os.environ["LOCKSTEP_BINARY"], ["lockstep"] + args, env)
    """#

  struct Step {
    let name: String
    let run: String
    let env: [String: String]
  }

  static func workflowJobs() throws -> [String: [Step]] {
    let text = try String(
      contentsOfFile: templates + "/ci/drift-github-actions.yml", encoding: .utf8)
    let document = try #require(try Yams.load(yaml: text) as? [String: Any])
    let jobs = try #require(document["jobs"] as? [String: Any])
    var result: [String: [Step]] = [:]
    for (name, job) in jobs {
      let steps = (job as? [String: Any])?["steps"] as? [[String: Any]] ?? []
      result[name] = steps.compactMap { step in
        guard let run = step["run"] as? String else { return nil }
        let env = (step["env"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
        return Step(name: step["name"] as? String ?? "", run: run, env: env)
      }
    }
    return result
  }

  /// Runs a job's `run:` steps in order as GitHub does (`bash -e`), with `${{ … }}`
  /// expressions replaced by `expressions`; returns each step's result.
  func runJob(
    _ steps: [Step], in repository: String, expressions: [String: String],
    environment: [String: String]
  ) throws -> [ChildProcess.Result] {
    let bin = try TemporaryDirectory.make(prefix: "gha-bin")
    try Self.dockerShim.write(toFile: bin + "/docker", atomically: true, encoding: .utf8)
    chmod(bin + "/docker", 0o755)
    let runnerTemp = try TemporaryDirectory.make(prefix: "runner-temp")
    var results: [ChildProcess.Result] = []
    for step in steps {
      var env = environment
      env["PATH"] = bin + ":/usr/bin:/bin"
      env["RUNNER_TEMP"] = runnerTemp
      env["EXPECTED_IMAGE"] = "ghcr.io/example/lockstep:test"
      env["LOCKSTEP_BINARY"] = Repository.lockstepBinary
      for (key, value) in step.env {
        var resolved = value
        for (expression, replacement) in expressions {
          resolved = resolved.replacingOccurrences(of: "${{ \(expression) }}", with: replacement)
        }
        #expect(!resolved.contains("${{"), "\(step.name): \(key) has an unknown expression")
        env[key] = resolved
      }
      let result = try ChildProcess.run(
        "bash", ["-e", "-c", step.run], environment: env, timeout: .seconds(120),
        directory: repository)
      results.append(result)
    }
    return results
  }

  @Test func workflowInstallsNoBinaryOntoTheRunner() throws {
    for (job, steps) in try Self.workflowJobs() {
      for step in steps {
        #expect(
          !(step.run.contains("curl") || step.run.contains("wget")),
          "\(job)/\(step.name) downloads something onto the runner")
      }
    }
  }

  @Test func workflowCodeJobPassesOnAnInventoryLargerThanTheCode() throws {
    let jobs = try Self.workflowJobs()
    let steps = try #require(jobs["code"])
    let expressions = ["vars.LOCKSTEP_IMAGE": "ghcr.io/example/lockstep:test"]
    let clean = try applicationRepository()
    let results = try runJob(steps, in: clean, expressions: expressions, environment: [:])
    #expect(
      results.first?.status == 0,
      "\(results.first?.stdoutText ?? "") \(results.first?.stderrText ?? "")")
    #expect(FileManager.default.fileExists(atPath: clean + "/drift-junit.xml"))

    let drifted = try applicationRepository(extraCodeKey: "STRIPE_KEY")
    let failing = try runJob(steps, in: drifted, expressions: expressions, environment: [:])
    #expect(failing.first?.status == 2)
    #expect(
      failing.first?.stdoutText.contains(
        "::error title=lockstep drift,file=src/server.js,line=3::STRIPE_KEY") == true,
      "\(failing.first?.stdoutText ?? "")")
  }

  /// The main-branch job against the local Vault and Kubernetes stand-in: the kubeconfig
  /// and token it uses are the files its own earlier step writes.
  @Test func workflowDeployedJobChecksVaultAndTheCluster() async throws {
    let jobs = try Self.workflowJobs()
    let steps = try #require(jobs["deployed"])
    try await withLocalService(.vault) { vault in
      try await withLocalService(.k8s) { k8s in
        let standIn = KubernetesStandIn(k8s)
        // Like a real cluster, the stand-in has only the namespaces that were created.
        try standIn.createNamespace("aura")
        _ = try vault.vaultCall(
          "POST", "secret/data/aura/production",
          body: #"{"data":{"DATABASE_URL":"x","SESSION_SECRET":"y","BUILT_AT_RUN_TIME":"z"}}"#)
        for (name, container) in [("aura-api", "api"), ("aura-worker", "worker")] {
          try standIn.createDeployment(
            namespace: "aura", name: name,
            containers: [
              .init(
                container,
                env: [("DATABASE_URL", "x"), ("SESSION_SECRET", "y"), ("BUILT_AT_RUN_TIME", "z")])
            ])
        }
        let repository = try applicationRepository()
        let kubeconfig = try String(contentsOfFile: standIn.kubeconfig, encoding: .utf8)
        let expressions = [
          "vars.LOCKSTEP_IMAGE": "ghcr.io/example/lockstep:test",
          "vars.VAULT_ADDR": "http://127.0.0.1:\(vault.port)",
          "secrets.VAULT_READ_TOKEN": "root", "secrets.DRIFT_KUBECONFIG": kubeconfig,
        ]
        let results = try runJob(
          steps, in: repository, expressions: expressions,
          environment: ["KUBECACHEDIR": try TemporaryDirectory.make(prefix: "gha-kube")])
        for (step, result) in zip(steps, results) {
          #expect(result.status == 0, "\(step.name): \(result.stdoutText) \(result.stderrText)")
        }
      }
    }
  }

  @Test func genericDriftStepMapsExitCodes() throws {
    let repository = try applicationRepository()
    try """
    environments:
      ci:
        expect: keys:env_keys.txt
        against: [code:src/**/*.js]
      broken:
        expect: keys:env_keys.txt
        against: [dotenv:absent.env]

    """.write(toFile: repository + "/drift.yaml", atomically: true, encoding: .utf8)
    let bin = (Repository.lockstepBinary as NSString).deletingLastPathComponent
    func step(_ environment: String) throws -> ChildProcess.Result {
      try ChildProcess.run(
        "/bin/sh", [Self.templates + "/ci/drift-step.sh"],
        environment: [
          "PATH": bin + ":/usr/bin:/bin", "POLICY": "drift.yaml", "ENVIRONMENT": environment,
        ], timeout: .seconds(60), directory: repository)
    }
    let clean = try step("ci")
    #expect(clean.status == 0, "\(clean.stdoutText) \(clean.stderrText)")
    #expect(FileManager.default.fileExists(atPath: repository + "/drift-report.json"))
    let broken = try step("broken")
    #expect(broken.status == 1)
    #expect(broken.stderrText.contains("could not run"))
  }

  // MARK: - env template and the docs' recipes

  @Test func envTemplateRendersAgainstVault() async throws {
    try await withLocalService(.vault) { vault in
      let keys = [
        "DATABASE_URL", "SESSION_SECRET", "IRON_SESSION_PASSWORD", "REDIS_URL",
        "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY",
      ]
      let data = keys.map { "\"\($0)\":\"v-\($0) it's # not a comment\"" }.joined(separator: ",")
      _ = try vault.vaultCall("POST", "secret/data/aura/production", body: "{\"data\":{\(data)}}")
      _ = try vault.vaultCall(
        "POST", "secret/data/aura/shared", body: #"{"data":{"SENTRY_DSN":"https://k@sentry/1"}}"#)
      let directory = try TemporaryDirectory.make(prefix: "env-template")
      let result = try CLI.run(
        [
          "env", "render", "--vault", "secret/aura/production", "--template",
          Self.templates + "/env/aura-sign.env.tmpl", "--out", directory + "/.env",
        ],
        environment: ["VAULT_ADDR": "http://127.0.0.1:\(vault.port)", "VAULT_TOKEN": "root"])
      #expect(result.status == 0, "\(result.stderrText)")
      let keysOut = try CLI.run(["env", "keys", "dotenv:" + directory + "/.env"])
      #expect(keysOut.stderrText.isEmpty, "\(keysOut.stderrText)")
      for key in keys + ["NODE_ENV", "SENTRY_DSN"] { #expect(keysOut.stdoutText.contains(key)) }
    }
  }

  /// docs/env.md's kubectl recipe, run from the docs' own code block against the stand-in:
  /// the Secret holds every value byte for byte.
  @Test func envDocsKubectlRecipe() async throws {
    let docs = try String(contentsOfFile: Repository.root + "/docs/env.md", encoding: .utf8)
    let recipe = try #require(
      docs.components(separatedBy: "```sh\n").dropFirst().map {
        $0.components(separatedBy: "```").first ?? ""
      }.first { $0.contains("kubectl create secret") })
    try await withLocalService(.vault) { vault in
      try await withLocalService(.k8s) { k8s in
        let standIn = KubernetesStandIn(k8s)
        // Like a real cluster, the stand-in has only the namespaces that were created.
        try standIn.createNamespace("aura")
        let values = [
          "DATABASE_URL": "postgres://aura:pa$$w0rd'@db/aura", "SESSION_SECRET": " spaced # hash ",
          "EMPTY": "", "QUOTED": #""double" and 'single'"#,
        ]
        let body = try JSONSerialization.data(withJSONObject: ["data": values])
        _ = try vault.vaultCall(
          "POST", "secret/data/aura/production", body: String(decoding: body, as: UTF8.self))
        var environment = try KubernetesStandIn.kubectlEnvironment()
        environment["PATH"] =
          (Repository.lockstepBinary as NSString).deletingLastPathComponent
          + ":/usr/local/bin:/usr/bin:/bin"
        environment["VAULT_ADDR"] = "http://127.0.0.1:\(vault.port)"
        environment["VAULT_TOKEN"] = "root"
        environment["KUBECONFIG"] = standIn.kubeconfig
        let result = try ChildProcess.run(
          "bash", ["-c", recipe], environment: environment, timeout: .seconds(120))
        #expect(result.status == 0, "\(result.stdoutText) \(result.stderrText)")
        let stored = try standIn.secretData(namespace: "aura", name: "aura-env")
        #expect(stored == values, "\(stored?.keys.sorted() ?? [])")

        // A multi-line value is refused with its name, before kubectl sees anything.
        _ = try vault.vaultCall(
          "POST", "secret/data/aura/production", body: #"{"data":{"PEM":"line1\nline2"}}"#)
        _ = try standIn.request("DELETE", "/api/v1/namespaces/aura/secrets/aura-env")
        let refused = try ChildProcess.run(
          "bash", ["-c", recipe], environment: environment, timeout: .seconds(120))
        #expect(refused.stderrText.contains("PEM"), "\(refused.stderrText)")
        #expect(try standIn.secretData(namespace: "aura", name: "aura-env") == nil)
      }
    }
  }
}

extension LocalService {
  /// A Vault API call with the dev root token, through curl with the body on stdin.
  func vaultCall(_ method: String, _ path: String, body: String) throws -> ChildProcess.Result {
    let result = try ChildProcess.run(
      "curl",
      [
        "-sf", "-X", method, "-H", "X-Vault-Token: root", "--data-binary", "@-",
        "http://127.0.0.1:\(port)/v1/\(path)",
      ], stdin: SecretBytes(utf8: body), timeout: .seconds(30))
    guard result.succeeded else { throw UserError("vault \(method) \(path) failed") }
    return result
  }
}
