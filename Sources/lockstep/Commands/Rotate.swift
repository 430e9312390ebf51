import ArgumentParser
import Envelope
import Foundation
import Kubernetes
import LockstepCore
import Postgres
import Redis
import Rotation
import Vault

#if canImport(Glibc)
  import Glibc
#endif

extension Lockstep {
  struct Rotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Rotate compromised secrets across Vault, PostgreSQL, Kubernetes and Redis.",
      discussion:
        "The protocol, the policy schema and the evidence are described in docs/rotation.md.",
      subcommands: [Plan.self, Run.self, Resume.self, Status.self])
  }
}

/// Options shared by the rotate subcommands.
struct RotationOptions: ParsableArguments {
  @Option(help: "The rotation policy (YAML), e.g. policies/rotation/aura-sign.yaml.")
  var policy: String

  func load() throws -> RotationPolicy {
    guard let text = try? String(contentsOfFile: policy, encoding: .utf8) else {
      throw UserError("cannot read the policy file \(policy)", exit: .usage)
    }
    return try RotationPolicy.parse(text, file: policy)
  }
}

struct RunOptions: ParsableArguments {
  @Option(help: "The Ed25519 signing key that seals the evidence (`lockstep keygen --signing`).")
  var signingKey: String

  @Option(help: "Where the evidence log is written.")
  var evidenceDir = "lockstep-evidence"

  @Option(help: "Where the local journal is kept (default ~/.local/state/lockstep).")
  var stateDir: String?

  @Flag(help: "Print the summary as JSON.")
  var json = false

  var resolvedStateDir: String {
    if let stateDir { return stateDir }
    let environment = ProcessInfo.processInfo.environment
    if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/lockstep" }
    return (environment["HOME"] ?? ".") + "/.local/state/lockstep"
  }
}

extension Lockstep.Rotate {
  struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show what a rotation would change; writes nothing.")

    @OptionGroup var options: RotationOptions

    func run() async throws {
      let policy = try options.load()
      let live: Result<VersionedSecret?, any Error>
      do {
        live = .success(
          try await onDedicatedThread {
            let store = VaultSecretStore(client: try VaultClient.fromEnvironment())
            return try store.read(policy.vault.secret)
          })
      } catch {
        live = .failure(error)
      }
      for line in RotationPlan.lines(policy: policy, live: live) { Terminal.out(line) }
    }
  }

  struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Run the whole compromise response: lock, stage, apply, verify, promote, deploy, invalidate, finish."
    )

    @OptionGroup var options: RotationOptions
    @OptionGroup var run: RunOptions

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    func run() async throws {
      let policy = try options.load()
      if !yes {
        guard isatty(STDIN_FILENO) == 1 else {
          throw UserError(
            "refusing to rotate without confirmation: pass --yes when not on a terminal",
            exit: .usage)
        }
        for line in RotationPlan.lines(policy: policy, live: .success(nil)) { Terminal.out(line) }
        FileHandle.standardError.write(
          Data("Rotate these secrets now? Type 'rotate' to go on: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "rotate" else {
          throw UserError("not confirmed; nothing was changed", exit: .failure)
        }
      }
      try await RotationCommand.execute(policy: policy, options: run, resume: false)
    }
  }

  struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Finish an interrupted rotation from its first unfinished step.")

    @OptionGroup var options: RotationOptions
    @OptionGroup var run: RunOptions

    @Flag(help: "Take over a lock held by another host that has not expired.")
    var forceUnlock = false

    @Flag(help: "On a check-and-set conflict, promote onto the newer live version.")
    var rebase = false

    func run() async throws {
      let policy = try options.load()
      try await RotationCommand.execute(
        policy: policy, options: run, resume: true, forceUnlock: forceUnlock, rebase: rebase)
    }
  }

  struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show whether a rotation is in progress and which steps are done.")

    @OptionGroup var options: RotationOptions

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() async throws {
      let policy = try options.load()
      let status = try await onDedicatedThread {
        try RotationStatus.read(
          policy: policy, store: VaultSecretStore(client: try VaultClient.fromEnvironment()))
      }
      if json {
        Terminal.out(status.json)
      } else {
        for line in status.lines { Terminal.out(line) }
      }
    }
  }
}

/// Builds the real clients from the environment and runs the orchestrator on its own thread.
enum RotationCommand {
  static func execute(
    policy: RotationPolicy, options: RunOptions, resume: Bool, forceUnlock: Bool = false,
    rebase: Bool = false
  ) async throws {
    let signingKey = try KeyFile.readSigningKey(path: options.signingKey)
    var settings = Rotator.Options(
      stateDirectory: options.resolvedStateDir, evidenceDirectory: options.evidenceDir)
    settings.forceUnlock = forceUnlock
    settings.rebase = rebase
    let json = options.json
    let fixedSettings = settings
    let summary = try await onDedicatedThread { () throws -> Rotator.Summary in
      let store = VaultSecretStore(client: try VaultClient.fromEnvironment())
      let database: PostgresRoles? = policy.postgres.isEmpty ? nil : try PostgresRoles()
      let deployments: KubectlDeployments? = policy.kubernetes.isEmpty ? nil : KubectlDeployments()
      var sessions: [String: any SessionStore] = [:]
      for target in policy.redis {
        sessions[target.urlVariable] = RedisSessions(
          configuration: try RedisConfiguration.fromEnvironment(variable: target.urlVariable),
          pattern: target.pattern ?? "*")
      }
      let rotator = Rotator(
        policy: policy, store: store, database: database, deployments: deployments,
        sessions: sessions, signingKey: signingKey, options: fixedSettings,
        progress: { progress in if !json { RotationOutput.show(progress) } })
      return try rotator.run(resume: resume)
    }
    RotationOutput.finish(summary, json: json)
  }
}

enum RotationOutput {
  static func show(_ progress: Rotator.Progress) {
    switch progress.state {
    case .started:
      break
    case .done:
      let time = progress.elapsed.map { String(format: "%7.3f s", $0.inSeconds) } ?? ""
      Terminal.out(
        "\(Terminal.green("✔")) \(progress.step.padding(toLength: 11, withPad: " ", startingAt: 0)) \(time)"
      )
    case .skipped:
      Terminal.out(
        "\(Terminal.dim("·")) \(progress.step.padding(toLength: 11, withPad: " ", startingAt: 0)) \(Terminal.dim(progress.message))"
      )
    case .info:
      Terminal.out("  \(Terminal.dim(progress.step + ": " + progress.message))")
    }
  }

  static func finish(_ summary: Rotator.Summary, json: Bool) {
    let total = summary.stepTimes.reduce(0.0) { $0 + $1.1.inSeconds }
    if json {
      let object: [String: Any] = [
        "rotation_id": summary.rotationID, "evidence": summary.evidencePath,
        "live_version": summary.liveVersion, "sessions_removed": summary.sessionsRemoved,
        "seconds": total,
        "steps": summary.stepTimes.map { ["step": $0.0, "seconds": $0.1.inSeconds] },
      ]
      if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
        Terminal.out(String(decoding: data, as: UTF8.self))
      }
      return
    }
    Terminal.out(
      "rotation \(summary.rotationID) complete in \(String(format: "%.2f", total)) s: live secret now v\(summary.liveVersion), \(summary.sessionsRemoved) sessions removed"
    )
    Terminal.out(
      "evidence: \(summary.evidencePath) (lockstep evidence verify \(summary.evidencePath))")
  }
}
