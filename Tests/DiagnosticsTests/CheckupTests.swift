import Diagnostics
import Foundation
import LockstepCore
import Rotation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("doctor's checks against the real servers")
struct CheckupTests {
  @Test func nothingConfiguredSkipsEverythingAndPasses() async throws {
    let report = await Checkup(environment: try DoctorFixture.emptyEnvironment()).run()
    #expect(report.passed)
    #expect(report.problems.isEmpty)
    #expect(report.results.map(\.system) == ["Vault", "PostgreSQL", "Redis", "Kubernetes", "S3"])
    #expect(report.results.allSatisfy { $0.status == .skipped })
    #expect(report.results[0].detail.contains("VAULT_ADDR"))
  }

  @Test func everyConfiguredSystemIsGreen() async throws {
    let fixture = try await DoctorFixture.make()
    let report = await Checkup(environment: fixture.environment, timeout: .seconds(10)).run()
    #expect(report.problems == [])
    #expect(report.passed)
    let names = report.results.map(\.name)
    #expect(
      names == [
        "Vault reachable", "Vault unsealed", "Vault token", "PostgreSQL login", "Redis PING",
        "kubectl", "kubectl context", "Kubernetes API", "S3 endpoint",
      ])
    let detail = Dictionary(uniqueKeysWithValues: report.results.map { ($0.name, $0.detail) })
    #expect(detail["Vault token"]?.contains("root") == true)
    #expect(detail["PostgreSQL login"]?.contains("PostgreSQL 15") == true)
    #expect(detail["kubectl context"] == KubernetesStandIn.context)
    #expect(detail["Kubernetes API"]?.contains("server v1.") == true)
  }

  /// Issue 19: with a backup URL, doctor proves the credentials with one signed request
  /// against a server that checks signatures; a wrong secret is one sentence.
  @Test func aBackupURLProvesTheS3Credentials() async throws {
    let s3 = try await SharedServices.shared.service(.s3)
    let bucket = "doctor-" + UUID().uuidString.prefix(8).lowercased()
    let created = try ChildProcess.run(
      "python3",
      [
        "-c",
        "import boto3,sys; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3]).create_bucket(Bucket=sys.argv[4])",
        "http://127.0.0.1:\(s3.port)", s3.s3AccessKeyID, s3.s3SecretAccessKey, bucket,
      ], timeout: .seconds(60))
    #expect(created.succeeded, "\(created.stderrText)")
    let environment = try DoctorFixture.emptyEnvironment().merging(s3.s3Environment) { $1 }
      .merging(["LOCKSTEP_BACKUP_URL": "s3://\(bucket)/vault"]) { $1 }
    let good = await Checkup(environment: environment, timeout: .seconds(30)).run()
    let line = try #require(good.results.first { $0.system == "S3" })
    #expect(line.status == .passed)
    #expect(line.detail.contains("credentials accepted"))
    let wrong = environment.merging(["AWS_SECRET_ACCESS_KEY": "not-the-secret"]) { $1 }
    let bad = await Checkup(environment: wrong, timeout: .seconds(30)).run()
    #expect(!bad.passed)
    #expect(
      bad.problems == [
        "http://127.0.0.1:\(s3.port) refused the credentials from the environment (AWS_ACCESS_KEY_ID) (SignatureDoesNotMatch)."
      ])
    #expect(bad.problems.allSatisfy { !$0.contains("not-the-secret") })
  }

  @Test func aStoppedVaultIsOneSentenceNamingVault() async throws {
    let vault = try await onDedicatedThread { try LocalService.start(.vault) }
    let address = "http://127.0.0.1:\(vault.port)"
    vault.stop()
    let environment = try DoctorFixture.emptyEnvironment().merging([
      "VAULT_ADDR": address, "VAULT_TOKEN": "root",
    ]) { $1 }
    // How long this takes is asserted on the binary in CLITests: in this process, other
    // suites' blocking calls can hold the two threads of the cooperative pool for seconds.
    // A generous deadline, so that the refusal, not the deadline, is what this reports.
    let report = await Checkup(environment: environment, timeout: .seconds(30)).run()
    #expect(!report.passed)
    #expect(report.problems.count == 1)
    let sentence = try #require(report.problems.first)
    #expect(sentence.hasPrefix("Vault at \(address) is not reachable: "))
    #expect(sentence.hasSuffix(".") || sentence.hasSuffix("?"))
    let statuses = report.results.filter { $0.system == "Vault" }.map(\.status)
    #expect(statuses == [.failed, .skipped, .skipped])
  }

  @Test func aServerThatNeverAnswersCostsOnlyTheTimeout() async throws {
    // A listening socket nobody accepts on: connects succeed, answers never come.
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(listener) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    try #require(bound == 0 && listen(listener, 16) == 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        getsockname(listener, $0, &length)
      }
    }
    let port = Int(UInt16(bigEndian: address.sin_port))
    let environment = try DoctorFixture.emptyEnvironment().merging([
      "VAULT_ADDR": "http://127.0.0.1:\(port)", "VAULT_TOKEN": "root",
      "PGHOST": "127.0.0.1", "PGPORT": String(port), "PGUSER": "nobody",
      "REDIS_URL": "redis://127.0.0.1:\(port)/0",
      "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)", "AWS_ACCESS_KEY_ID": "k",
      "AWS_SECRET_ACCESS_KEY": "s",
    ]) { $1 }
    let clock = ContinuousClock()
    let started = clock.now
    let report = await Checkup(environment: environment, timeout: .seconds(2)).run()
    let elapsed = clock.now - started
    // That the deadline stopped the checks: the S3 client alone would wait for its 300 s
    // request timeout, and the deadline's line is in the report. The bound is far from 2 s
    // because other suites' blocking calls share this process's two pool threads (24.8 s
    // and 30.9 s were seen in full runs); the binary's own timing is asserted in CLITests.
    #expect(elapsed < .seconds(150), "took \(elapsed)")
    #expect(report.results.contains { $0.detail == "no answer within 2 s" })
    #expect(!report.passed)
    #expect(report.problems.count == 4)
    for (problem, system) in zip(report.problems, ["Vault", "PostgreSQL", "Redis", "object store"])
    {
      #expect(problem.contains(system), "\(problem)")
    }
  }

  @Test func aPolicyWithEverythingInPlaceIsGreen() async throws {
    let fixture = try await DoctorFixture.make()
    let seeded = try fixture.seedPolicyTargets()
    let policy = try RotationPolicy.parse(seeded.policy, file: "doctor.yaml")
    let report = await Checkup(
      environment: fixture.environment, policy: policy, timeout: .seconds(15)
    ).run()
    #expect(report.problems == [])
    let names = Set(report.results.map(\.name))
    for expected in [
      "Vault secret mount", "Vault live secret", "Vault secret access", "Vault staging access",
      "Vault lock cleanup", "PostgreSQL rights", "PostgreSQL own login",
      "PostgreSQL role \(seeded.role)", "PostgreSQL database postgres", "Redis access sess:*",
      "kubectl can-i patch deployments.apps (\(seeded.namespace))",
      // The Secret's write right (patch, or its operator's) is part of the workload's check.
      "deployment \(seeded.namespace)/web",
    ] {
      #expect(names.contains(expected), "missing \(expected)")
    }
  }

  @Test func aPolicyReportsEachMissingRightInItsOwnSentence() async throws {
    let fixture = try await DoctorFixture.make()
    let seeded = try fixture.seedPolicyTargets()
    // Vault: a token that may use the secret and staging, but not delete the lock.
    let token = try fixture.vault.token(
      policy: VaultTesting.uniqueName("doctor"),
      rules: """
        path "\(seeded.mount)/data/*" { capabilities = ["create", "read", "update"] }
        path "\(seeded.mount)/metadata/lockstep/staging/*" { capabilities = ["delete"] }
        """)
    // Redis: an ACL user that may SCAN but not UNLINK.
    let user = "doctor\(UInt32.random(in: 0...UInt32.max))"
    try fixture.redisCLI("ACL", "SETUSER", user, "on", ">doctor-pw", "~*", "+ping", "+scan")
    // Kubernetes: Secrets may not be patched in the target namespace.
    try fixture.kubernetes.deny(verb: "patch", resource: "secrets", namespace: seeded.namespace)
    let text = DoctorFixture.policy(
      secret: "\(seeded.mount)/app/prod", role: "missing_role_\(user)",
      namespace: seeded.namespace, deployment: "nowhere", redisVariable: "APP_REDIS_URL")
    let tokenText = try #require(token.unsafeUTF8String())
    var environment = fixture.environment
    environment["VAULT_TOKEN"] = tokenText
    environment["APP_REDIS_URL"] = "redis://\(user):doctor-pw@127.0.0.1:\(fixture.redis.port)/0"
    let report = await Checkup(
      environment: environment, policy: try RotationPolicy.parse(text, file: "p.yaml"),
      timeout: .seconds(15)
    ).run()
    #expect(!report.passed)
    let problems = report.problems
    func expectProblem(_ fragment: String) {
      #expect(problems.contains { $0.contains(fragment) }, "no problem mentions \(fragment)")
    }
    expectProblem("may not delete \(seeded.mount)/metadata/lockstep/locks/app/prod")
    expectProblem("PostgreSQL role \"missing_role_\(user)\" named by the policy does not exist")
    expectProblem("may not UNLINK keys matching 'sess:*'")
    // The workload is missing, and the Secret's plain write right is still named on its
    // own, so one doctor run lists every missing right.
    expectProblem("eployment \(seeded.namespace)/nowhere does not exist")
    expectProblem(
      "deploy step writes Secret \(seeded.namespace)/app-secrets, and kubectl may not patch it")
    #expect(problems.count == 5, "\(problems)")
    #expect(!problems.joined().contains("doctor-pw"))
    #expect(!problems.joined().contains(tokenText))
  }

  @Test func aPolicyMustNotRotateLockstepsOwnLogin() async throws {
    let fixture = try await DoctorFixture.make()
    let seeded = try fixture.seedPolicyTargets()
    let text = DoctorFixture.policy(
      secret: "\(seeded.mount)/app/prod", role: "postgres", namespace: seeded.namespace,
      deployment: "web")
    let report = await Checkup(
      environment: fixture.environment, policy: try RotationPolicy.parse(text, file: "p.yaml"),
      timeout: .seconds(15)
    ).run()
    #expect(report.problems.count == 1, "\(report.problems)")
    #expect(report.problems.first?.contains("the role Lockstep itself logs in as") == true)
    #expect(report.results.first { $0.name == "PostgreSQL own login" }?.status == .failed)
  }

  @Test func anAlternatingPairIsCheckedForEqualRights() async throws {
    let fixture = try await DoctorFixture.make()
    let seeded = try fixture.seedPolicyTargets()
    let suffix = UInt32.random(in: 0...UInt32.max)
    let (blue, green, group) = ("blue_\(suffix)", "green_\(suffix)", "group_\(suffix)")
    try fixture.psql(
      "CREATE ROLE \(group) NOLOGIN; CREATE ROLE \(blue) LOGIN IN ROLE \(group); "
        + "CREATE ROLE \(green) LOGIN")
    let text = DoctorFixture.policy(
      secret: "\(seeded.mount)/app/prod", role: blue, namespace: seeded.namespace,
      deployment: "web"
    )
    .replacingOccurrences(of: "vault:\n", with: "strategy: alternating\nvault:\n")
    .replacingOccurrences(
      of: "      password_key: DATABASE_PASSWORD\n",
      with: "      password_key: DATABASE_PASSWORD\n      alternate_role: \(green)\n"
        + "      user_key: DATABASE_USER\n")
    let policy = try RotationPolicy.parse(text, file: "p.yaml")
    func pairCheck() async -> CheckResult? {
      await Checkup(environment: fixture.environment, policy: policy, timeout: .seconds(15)).run()
        .results.first { $0.name == "PostgreSQL pair \(blue)/\(green)" }
    }
    let usable = try #require(await pairCheck())
    #expect(usable.status == .passed)
    #expect(usable.detail.contains("group memberships differ"))

    try fixture.psql(
      "CREATE TABLE owned_\(suffix) (id int); ALTER TABLE owned_\(suffix) OWNER TO \(green)")
    let refused = try #require(await pairCheck())
    #expect(refused.status == .failed)
    #expect(refused.problem?.contains("PostgreSQL role \(green) owns 1 object(s)") == true)
  }

  @Test func policyTargetsAreCheckedEvenWhenTheirVariableIsUnset() async throws {
    let fixture = try await DoctorFixture.make()
    let seeded = try fixture.seedPolicyTargets()
    let text = DoctorFixture.policy(
      secret: "\(seeded.mount)/app/prod", role: seeded.role, namespace: seeded.namespace,
      deployment: "web", redisVariable: "UNSET_REDIS_URL")
    let report = await Checkup(
      environment: fixture.environment, policy: try RotationPolicy.parse(text, file: "p.yaml"),
      timeout: .seconds(15)
    ).run()
    #expect(
      report.problems == [
        "The policy's Redis target reads its URL from $UNSET_REDIS_URL, which is not set."
      ])
  }

  @Test func jsonCarriesEveryLineAndTheVerdict() throws {
    let report = CheckupReport(results: [
      .passed("Vault", "Vault reachable", "http://127.0.0.1:8200 answers"),
      .failed("Redis", "Redis PING", "refused", problem: "Redis at 127.0.0.1:6379 refused."),
      .skipped("S3", "S3", "not configured"),
    ])
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
    #expect(object["ok"] as? Bool == false)
    let checks = try #require(object["checks"] as? [[String: Any]])
    #expect(checks.map { $0["status"] as? String } == ["passed", "failed", "skipped"])
    #expect(checks[1]["problem"] as? String == "Redis at 127.0.0.1:6379 refused.")
    #expect(checks[0]["problem"] == nil)
    #expect(report.lines().map { $0.prefix(1) } == ["✔", "✘", "–"])
  }
}

extension Checkup {
  /// Doctor with a policy, wired as `lockstep doctor --policy` wires it.
  init(environment: [String: String], policy: RotationPolicy, timeout: Duration) {
    self.init(environment: environment, timeout: timeout)
    self.policy = RotationPreflight.doctorPlan(
      policy: policy, environment: environment, clientTimeout: clientTimeout)
  }
}
