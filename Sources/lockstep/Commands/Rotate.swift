import ArgumentParser
import Crypto
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
      subcommands: [Plan.self, Run.self, Resume.self, Status.self, Abort.self, Confirm.self])
  }
}

/// Options shared by the rotate subcommands.
struct RotationOptions: ParsableArguments {
  @Option(help: "The rotation policy (YAML), e.g. policies/rotation/aura-sign.yaml.")
  var policy: String

  func load() throws -> RotationPolicy { try loadWithDigest().policy }

  /// The policy and the SHA-256 of its file, which the lock and every evidence record keep.
  func loadWithDigest() throws -> (policy: RotationPolicy, digest: String) {
    guard let text = try? String(contentsOfFile: policy, encoding: .utf8) else {
      throw UserError("cannot read the policy file \(policy)", exit: .usage)
    }
    return (try RotationPolicy.parse(text, file: policy), Hex.encode(SHA256.hash(Array(text.utf8))))
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
      abstract: "Show what a rotation would change and every key it accounts for; writes nothing.",
      discussion:
        "Under strategy single, a key of the live secret (or of a Kubernetes Secret the policy writes) that the policy neither rotates, derives, hands to a target, lists under manual nor keeps with a reason fails the plan with exit status 2."
    )

    @OptionGroup var options: RotationOptions

    @Flag(help: "Print the plan as JSON.")
    var json = false

    func run() async throws {
      let policy = try options.load()
      let live: Result<VersionedSecret?, any Error>
      do {
        let store = VaultSecretStore(client: try VaultClient.fromEnvironment())
        live = .success(try await store.read(policy.vault.secret))
      } catch {
        live = .failure(error)
      }
      let (secretKeys, unreadable) =
        policy.kubernetes.isEmpty ? ([], []) : await BlastRadius.secretKeys(policy: policy)
      if json {
        var object = RotationPlan.json(policy: policy, live: live, secretKeys: secretKeys)
        if !unreadable.isEmpty { object["unreadable"] = unreadable }
        let data = try JSONSerialization.data(
          withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        Terminal.out(String(decoding: data, as: UTF8.self))
      } else {
        for line in RotationPlan.lines(policy: policy, live: live, secretKeys: secretKeys) {
          Terminal.out(line)
        }
        for line in unreadable { Terminal.error("warning: could not read \(line)") }
      }
      guard case .success(let secret?) = live else { return }
      let radius = BlastRadius.assess(
        policy: policy, liveKeys: Array(secret.values.keys), secretKeys: secretKeys)
      if policy.strategy == .single, let sentence = radius.unaccountedSentence(policy: policy) {
        throw UserError(sentence, exit: .mismatch)
      }
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
      let (policy, digest) = try options.loadWithDigest()
      if !yes {
        guard isatty(STDIN_FILENO) == 1 else {
          throw UserError(
            "refusing to rotate without confirmation: pass --yes when not on a terminal",
            exit: .usage)
        }
        for line in RotationPlan.lines(policy: policy, live: nil) { Terminal.out(line) }
        FileHandle.standardError.write(
          Data("Rotate these secrets now? Type 'rotate' to go on: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "rotate" else {
          throw UserError("not confirmed; nothing was changed", exit: .failure)
        }
      }
      try await RotationCommand.execute(
        policy: policy, digest: digest, policyFile: options.policy, options: run, resume: false)
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

    @Flag(help: "Do not ask for confirmation (needed when not on a terminal).")
    var yes = false

    func run() async throws {
      let (policy, digest) = try options.loadWithDigest()
      // The lock is untrusted until checked: show who holds it and what it claims first.
      let policyFile = options.policy
      let status = try await RotationStatus.read(
        policy: policy, store: VaultSecretStore(client: try VaultClient.fromEnvironment()),
        policyFile: policyFile)
      if !yes {
        guard isatty(STDIN_FILENO) == 1 else {
          throw UserError(
            "refusing to resume without confirmation: pass --yes when not on a terminal (see `lockstep rotate status` for who holds the lock)",
            exit: .usage)
        }
        for line in status.lines { Terminal.out(line) }
        FileHandle.standardError.write(
          Data("Take over this rotation and finish it? Type 'resume' to go on: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "resume" else {
          throw UserError("not confirmed; nothing was changed", exit: .failure)
        }
      } else if let lock = status.lock, !run.json {
        Terminal.error(
          "resuming rotation \(lock.rotationID) held by \(lock.holder); done: \(lock.steps.isEmpty ? "nothing yet" : lock.steps.joined(separator: ", "))"
        )
      }
      try await RotationCommand.execute(
        policy: policy, digest: digest, policyFile: options.policy, options: run, resume: true,
        forceUnlock: forceUnlock, rebase: rebase)
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
      let policyFile = options.policy
      let status = try await RotationStatus.read(
        policy: policy, store: VaultSecretStore(client: try VaultClient.fromEnvironment()),
        policyFile: policyFile)
      if json {
        Terminal.out(status.json)
      } else {
        for line in status.lines { Terminal.out(line) }
      }
    }
  }
}

/// Builds the real clients from the environment and runs the orchestrator.
enum RotationCommand {
  static func execute(
    policy: RotationPolicy, digest: String, policyFile: String, options: RunOptions,
    resume: Bool, forceUnlock: Bool = false, rebase: Bool = false
  ) async throws {
    let signingKey = try KeyFile.readSigningKey(path: options.signingKey)
    var settings = Rotator.Options(
      stateDirectory: options.resolvedStateDir, evidenceDirectory: options.evidenceDir)
    settings.policyDigest = digest
    settings.signer = KeyFile.encodeSigningPublicKey(signingKey.publicKey)
    settings.signingKeyFile = absolute(options.signingKey)
    settings.forceUnlock = forceUnlock
    settings.rebase = rebase
    var words = [
      "lockstep", "rotate", "resume", "--policy", RotationStatus.quoted(policyFile),
      "--signing-key", RotationStatus.quoted(options.signingKey),
    ]
    if options.evidenceDir != "lockstep-evidence" {
      words += ["--evidence-dir", RotationStatus.quoted(options.evidenceDir)]
    }
    if let stateDir = options.stateDir {
      words += ["--state-dir", RotationStatus.quoted(stateDir)]
    }
    settings.resumeCommand = words.joined(separator: " ")
    let interrupt = RotationInterrupt()
    settings.interrupt = interrupt
    let handlers = InterruptHandlers(interrupt)
    defer { handlers.cancel() }
    let json = options.json
    let fixedSettings = settings
    let rotator = try makeRotator(
      policy: policy, signingKey: signingKey, settings: fixedSettings,
      progress: { progress in if !json { RotationOutput.show(progress) } })
    let summary = try await rotator.run(resume: resume)
    RotationOutput.finish(summary, json: json)
  }
}

/// `path` made absolute against the working directory, for commands printed to be typed
/// elsewhere.
func absolute(_ path: String) -> String {
  if path.hasPrefix("/") { return path }
  return FileManager.default.currentDirectoryPath + "/" + path
}

/// SIGINT/SIGTERM during a rotation: the first asks the orchestrator to stop at the next
/// step boundary (the write in progress completes and is recorded); a second one stops at
/// once, as a crash would, which `resume` also survives.
final class InterruptHandlers {
  let sources: [any DispatchSourceSignal]

  init(_ interrupt: RotationInterrupt) {
    var sources: [any DispatchSourceSignal] = []
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        if interrupt.raise(number) {
          Terminal.error(
            "stopping after the current step (Ctrl-C again stops at once; resume survives either)")
        } else {
          signal(number, SIG_DFL)
          kill(getpid(), number)
        }
      }
      source.resume()
      sources.append(source)
    }
    self.sources = sources
  }

  func cancel() {
    for source in sources { source.cancel() }
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
  }
}

extension RotationCommand {
  /// The orchestrator on the real clients, configured from the environment.
  static func makeRotator(
    policy: RotationPolicy, signingKey: Ed25519KeyPair, settings: Rotator.Options,
    progress: @escaping @Sendable (Rotator.Progress) -> Void
  ) throws -> Rotator {
    return Rotator(
      policy: policy, store: VaultSecretStore(client: try VaultClient.fromEnvironment()),
      services: try services(for: policy), signingKey: signingKey, options: settings,
      progress: progress)
  }

  /// The clients the policy's targets use, from the environment: PostgreSQL from `PG*`,
  /// kubectl from PATH and the kubeconfig, Redis from each target's URL variable.
  static func services(for policy: RotationPolicy) throws -> RotationServices {
    var services = RotationServices(environment: ProcessInfo.processInfo.environment)
    if !policy.postgres.isEmpty { services.database = try PostgresRoles() }
    if !policy.kubernetes.isEmpty { services.deployments = KubectlDeployments() }
    for target in policy.redis {
      services.sessions[target.urlVariable] = RedisSessions(
        configuration: try RedisConfiguration.fromEnvironment(variable: target.urlVariable),
        pattern: target.pattern ?? "*")
    }
    return services
  }
}

extension Lockstep.Rotate {
  struct Abort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Give up an unfinished rotation before promote: undo what can be undone, record why, release the lock."
    )

    @OptionGroup var options: RotationOptions
    @OptionGroup var run: RunOptions

    @Option(help: "Why the rotation is given up (recorded in the evidence).")
    var reason: String

    @Flag(help: "Abort a lock held by another host that has not expired.")
    var forceUnlock = false

    @Flag(help: "Do not ask for confirmation (needed when not on a terminal).")
    var yes = false

    func run() async throws {
      let (policy, digest) = try options.loadWithDigest()
      guard !reason.isEmpty, reason.utf8.count <= 1000,
        reason.unicodeScalars.allSatisfy({ !($0.properties.generalCategory == .control) })
      else {
        throw UserError("--reason must be one line of text (at most 1000 bytes)", exit: .usage)
      }
      if !yes {
        guard isatty(STDIN_FILENO) == 1 else {
          throw UserError(
            "refusing to abort without confirmation: pass --yes when not on a terminal",
            exit: .usage)
        }
        FileHandle.standardError.write(
          Data("Abort the unfinished rotation? Type 'abort' to go on: ".utf8))
        guard readLine()?.trimmingCharacters(in: .whitespaces) == "abort" else {
          throw UserError("not confirmed; nothing was changed", exit: .failure)
        }
      }
      let signingKey = try KeyFile.readSigningKey(path: run.signingKey)
      var settings = Rotator.Options(
        stateDirectory: run.resolvedStateDir, evidenceDirectory: run.evidenceDir)
      settings.policyDigest = digest
      settings.signer = KeyFile.encodeSigningPublicKey(signingKey.publicKey)
      settings.forceUnlock = forceUnlock
      let fixed = settings
      let reason = self.reason
      let rotator = try RotationCommand.makeRotator(
        policy: policy, signingKey: signingKey, settings: fixed, progress: { _ in })
      let outcome = try await rotator.abort(reason: reason)
      if run.json {
        try JSONOutput.print(
          RotationOutput.Aborted(
            rotationID: outcome.rotationID, evidence: outcome.evidencePath,
            undone: outcome.undone, notUndone: outcome.notUndone),
          pretty: false)
        return
      }
      Terminal.out("rotation \(outcome.rotationID) aborted")
      for line in outcome.undone { Terminal.out("  undone: \(line)") }
      for line in outcome.notUndone { Terminal.out("  not undone: \(line)") }
      Terminal.out("evidence: \(outcome.evidencePath)")
    }
  }
}

enum RotationOutput {
  /// `rotate abort --json`.
  struct Aborted: Encodable {
    let rotationID: String
    let evidence: String
    let undone: [String]
    let notUndone: [String]

    enum CodingKeys: String, CodingKey {
      case evidence, undone
      case rotationID = "rotation_id"
      case notUndone = "not_undone"
    }
  }

  /// `rotate run --json`: the rotation and the time of each step.
  struct Finished: Encodable {
    let rotationID: String
    let evidence: String
    let liveVersion: Int
    let sessionsRemoved: Int
    let seconds: Double
    let steps: [StepTime]

    enum CodingKeys: String, CodingKey {
      case evidence, seconds, steps
      case rotationID = "rotation_id"
      case liveVersion = "live_version"
      case sessionsRemoved = "sessions_removed"
    }
  }

  struct StepTime: Encodable {
    let step: String
    let seconds: Double
  }

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
      let result = Finished(
        rotationID: summary.rotationID, evidence: summary.evidencePath,
        liveVersion: summary.liveVersion, sessionsRemoved: summary.sessionsRemoved,
        seconds: total,
        steps: summary.stepTimes.map { StepTime(step: $0.0, seconds: $0.1.inSeconds) })
      try? JSONOutput.print(result, pretty: false)
      return
    }
    Terminal.out(
      "rotation \(summary.rotationID) complete in \(String(format: "%.2f", total)) s: live secret now v\(summary.liveVersion), \(summary.sessionsRemoved) sessions removed"
    )
    Terminal.out(
      "evidence: \(summary.evidencePath) (lockstep evidence verify \(summary.evidencePath))")
  }
}
