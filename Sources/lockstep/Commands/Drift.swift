import ArgumentParser
import Drift
import Foundation
import Kubernetes
import LockstepCore
import Vault

#if canImport(Glibc)
  import Glibc
#endif

extension Lockstep {
  /// Compares key inventories for CI: exit 0 in sync, 2 drift, 1 could not check.
  struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "drift",
      abstract: "Check that sources hold the expected environment keys (names only).",
      discussion: """
        SOURCE: dotenv:PATH, keys:PATH, vault:MOUNT/PATH, k8s:NS/DEPLOYMENT[/CONTAINER], \
        env:REGEX, code:GLOB, externalsecret:GLOB, externalsecret:k8s:NS[/NAME]. --fix appends \
        the names keys: and dotenv: files lack (empty values). Exit 0: no drift; 2: drift found; 1: a source could not be read. \
        See docs/drift.md.
        """)

    @Option(help: "The source every other is compared with.")
    var expect: String?

    @Option(parsing: .upToNextOption, help: "Sources to compare with the expected keys.")
    var against: [String] = []

    @Option(help: "Key names (globs) to leave out; repeatable.")
    var ignore: [String] = []

    @Option(help: "A drift policy file naming the sources per environment.")
    var policy: String?

    @Option(name: .customLong("env"), help: "The environment of the policy to check.")
    var environment: String?

    @Option(help: "text, json, github or junit.")
    var format: String = DriftFormat.text.rawValue

    @Option(
      help: """
        expect-to-against (expected keys must be in each source), against-to-expect (each \
        source's keys must be expected), both, or auto: both, but only the scan's keys count \
        where one side is code:.
        """)
    var direction: String?

    @Flag(
      help: "Append the keys that keys: and dotenv: sources lack (names only, empty values).")
    var fix = false

    func validate() throws {
      guard DriftFormat(rawValue: format) != nil else {
        throw ValidationError("--format must be text, json, github or junit")
      }
      if let direction, DriftDirection(rawValue: direction) == nil {
        throw ValidationError(
          "--direction must be \(DriftDirection.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      if policy != nil {
        guard environment != nil else { throw ValidationError("--policy needs --env NAME") }
        guard expect == nil, against.isEmpty else {
          throw ValidationError("give --policy or --expect/--against, not both")
        }
      } else {
        guard expect != nil, !against.isEmpty else {
          throw ValidationError("give --expect SOURCE and at least one --against SOURCE")
        }
      }
    }

    func run() async throws {
      do {
        let expected: SourceSpec
        var sources: [SourceSpec] = []
        var ignored = ignore
        var way = direction.flatMap(DriftDirection.init(rawValue:))
        if let policy, let environment {
          let resolved = try DriftPolicy.load(policy).resolve(environment, path: policy)
          (expected, sources) = (resolved.expect, resolved.against)
          ignored += resolved.ignore
          way = way ?? resolved.direction
        } else {
          expected = try SourceSpec(parsing: expect!)
          for source in against { sources.append(try SourceSpec(parsing: source)) }
        }
        let loader = SourceLoader(
          connections: try DriftConnections.live(for: [expected] + sources),
          vaultPaths: ([expected] + sources).compactMap {
            if case .vault(let path) = $0 { path } else { nil }
          })
        let expectedKeys = try await loader.load(expected)
        var inventories: [KeyInventory] = []
        for source in sources { inventories.append(try await loader.load(source)) }
        let report = DriftCheck.compare(
          expected: expectedKeys, against: inventories, ignore: ignored,
          direction: way ?? .auto)
        // Names and messages come from sources (a Vault key may hold any byte): escaped.
        let rendered = report.rendered(as: DriftFormat(rawValue: format)!)
        FileHandle.standardOutput.write(
          Data(UntrustedText.escaped(rendered, keepingNewlines: true).utf8))
        if fix && report.hasDrift {
          let plan = try DriftFix.plan(report, expected: expected, sources: sources)
          for change in try DriftFix.apply(plan) {
            Terminal.error(
              "added \(change.keys.count) key\(change.keys.count == 1 ? "" : "s") to \(change.path)"
            )
          }
        }
        if report.hasDrift { throw ExitCode(ExitStatus.mismatch.rawValue) }
      } catch let error as any LockstepError where error.exitStatus != .usage {
        // Whatever stopped the check (Vault denied, kubectl missing), CI sees exit 1, and
        // a pull request sees an annotation saying why.
        if format == DriftFormat.github.rawValue {
          FileHandle.standardOutput.write(
            Data(DriftReport.githubError(UntrustedText.escaped(error.description)).utf8))
        }
        Terminal.error(error.description)
        throw ExitCode(ExitStatus.failure.rawValue)
      }
    }
  }
}

extension DriftConnections {
  /// Clients for the outside systems the given sources need, configured the way the vault
  /// CLI and kubectl read their environment.
  static func live(for sources: [SourceSpec]) throws -> DriftConnections {
    var connections = DriftConnections()
    if sources.contains(where: { if case .vault = $0 { true } else { false } }) {
      connections.vault = VaultKeySource(client: try VaultClient.fromEnvironment())
    }
    if sources.contains(where: { if case .k8s = $0 { true } else { false } }) {
      connections.kubernetes = KubectlDeploymentEnvSource()
    }
    if sources.contains(where: { if case .externalSecretCluster = $0 { true } else { false } }) {
      connections.externalSecrets = KubectlExternalSecretSource()
    }
    return connections
  }
}
