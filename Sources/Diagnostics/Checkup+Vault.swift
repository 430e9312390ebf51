import Foundation
import LockstepCore
import Vault

extension Checkup {
  func vaultPlan() -> SystemPlan {
    let system = "Vault"
    guard value("VAULT_ADDR") != nil || policy != nil else {
      return .done([.skipped(system, "Vault", "not configured (VAULT_ADDR is not set)")])
    }
    let configuration: VaultConfiguration
    do {
      configuration = try VaultConfiguration.fromEnvironment(environment)
    } catch {
      return .done([
        .failed(
          system, "Vault configuration", Self.clause(error),
          problem: Self.finish("Vault is misconfigured: \(Self.clause(error))"))
      ])
    }
    var settings = configuration
    settings.connectTimeout = min(settings.connectTimeout, clientTimeout)
    settings.requestTimeout = clientTimeout
    // No retries: a retry would not fit in the deadline, and the first error says more.
    settings.maxRetries = 0
    settings.parallelism = 2
    let client = VaultClient(configuration: settings)
    let policy = self.policy
    let subject = "Vault at \(configuration.address)"
    return .run(CheckLog(system: system), subject: subject) { log in
      guard await Self.vaultBasics(client, log) else { return }
      if let policy { await Self.vaultPolicy(client, policy, log) }
    }
  }

  /// Reachable, unsealed, token valid; false when later checks would be meaningless.
  static func vaultBasics(_ client: VaultClient, _ log: CheckLog) async -> Bool {
    let address = client.configuration.address
    log.begin("Vault reachable")
    let health: VaultHealth
    do {
      health = try await client.health()
    } catch VaultError.unreachable(_, let cause) {
      log.fail(
        "Vault reachable", "\(address): \(clause(cause))",
        problem: finish("Vault at \(address) is not reachable: \(clause(cause))"))
      log.skip("Vault unsealed", "skipped: Vault is not reachable")
      log.skip("Vault token", "skipped: Vault is not reachable")
      return false
    } catch {
      log.fail(
        "Vault reachable", "\(address): \(clause(error))",
        problem: finish("Vault at \(address) did not answer its health check: \(clause(error))"))
      return false
    }
    let version = health.version.isEmpty ? "" : " (version \(health.version))"
    log.pass("Vault reachable", "\(address) answers\(version)")

    guard health.initialized else {
      log.fail(
        "Vault unsealed", "not initialized",
        problem: "Vault at \(address) is not initialized: run `vault operator init` first.")
      return false
    }
    guard !health.sealed else {
      log.fail(
        "Vault unsealed", "sealed",
        problem: "Vault at \(address) is sealed: unseal it, then run doctor again.")
      log.skip("Vault token", "skipped: Vault is sealed")
      return false
    }
    log.pass("Vault unsealed", health.standby ? "unsealed (standby node)" : "unsealed")

    log.begin("Vault token")
    guard client.configuration.token != nil else {
      log.fail(
        "Vault token", "no token",
        problem:
          "No Vault token for \(address): set VAULT_TOKEN or write ~/.vault-token.")
      return false
    }
    do {
      let info = try await client.lookupSelf()
      let name = info.displayName.isEmpty ? "token" : info.displayName
      let policies = info.policies.isEmpty ? "no policies" : info.policies.joined(separator: ", ")
      let ttl = info.ttl == 0 ? "does not expire" : "expires in \(describe(seconds: info.ttl))"
      log.pass("Vault token", "valid: \(name), policies \(policies); \(ttl)")
      return true
    } catch VaultError.badToken {
      log.fail(
        "Vault token", "refused",
        problem:
          "Vault at \(address) refused the token (expired, revoked or mistyped): set VAULT_TOKEN to a valid one."
      )
    } catch {
      log.fail(
        "Vault token", clause(error),
        problem: finish("Vault at \(address) could not check the token: \(clause(error))"))
    }
    return false
  }

  /// What `rotate run` does in Vault, rendered from the policy's requirements: KV v2 for
  /// check-and-set, the live secret present, and the token's capabilities on the secret,
  /// staging and lock paths.
  static func vaultPolicy(_ client: VaultClient, _ policy: PreflightPlan, _ log: CheckLog) async {
    var apiPaths: [(name: String, shown: String, api: String, needs: [String])] = []
    var liveSecrets: [String] = []
    for requirement in policy.requirements(of: "Vault") {
      if case .vaultSecret(let path) = requirement.need { liveSecrets.append(path) }
      guard case .vaultRights(let role, let path, let rights, let metadataDelete) = requirement.need
      else { continue }
      let name = "Vault \(role) mount"
      log.begin(name)
      do {
        let mount = try await client.mount(for: path)
        let relative = String(path.drop { $0 == "/" }.dropFirst(mount.path.count))
        guard mount.kvVersion == 2 else {
          let kind = mount.kvVersion == 1 ? "a KV version 1" : "a \(mount.type)"
          log.fail(
            name, "\(mount.path) is \(kind) mount",
            problem:
              "The policy's \(role) path \(path) is on \(kind) mount; rotation needs KV version 2 for check-and-set."
          )
          continue
        }
        if !metadataDelete {
          log.pass(name, "\(mount.path) is KV version 2")
        }
        let data = mount.apiPath("data", relative)
        let metadata = mount.apiPath("metadata", relative)
        apiPaths.append((requirement.name, path, data, rights))
        if metadataDelete {
          apiPaths.append(("Vault \(role) cleanup", path, metadata, ["delete"]))
        }
      } catch {
        log.fail(
          name, clause(error),
          problem: finish(
            "Vault: the policy's \(role) path \(path) cannot be used: \(clause(error))"))
      }
    }

    for secret in liveSecrets {
      log.begin("Vault live secret")
      do {
        _ = try await client.read(secret)
        log.pass("Vault live secret", "\(secret) exists")
      } catch VaultError.notFound, VaultError.versionDeleted, VaultError.versionDestroyed {
        log.fail(
          "Vault live secret", "\(secret) not found",
          problem:
            "The policy's live secret \(secret) does not exist in Vault: there is nothing to rotate."
        )
      } catch {
        log.fail(
          "Vault live secret", clause(error),
          problem: finish("Vault could not read the live secret \(secret): \(clause(error))"))
      }
    }

    guard !apiPaths.isEmpty else { return }
    log.begin("Vault capabilities")
    do {
      let granted = try await client.capabilities(apiPaths: apiPaths.map(\.api))
      for entry in apiPaths {
        let name = entry.name
        let have = granted[entry.api] ?? []
        let missing = have.contains("root") ? [] : entry.needs.filter { !have.contains($0) }
        if missing.isEmpty {
          log.pass(name, "\(entry.needs.joined(separator: ", ")) on \(entry.api)")
        } else {
          let has = have.isEmpty ? "none" : have.joined(separator: ", ")
          log.fail(
            name, "\(entry.api): missing \(missing.joined(separator: ", "))",
            problem:
              "The Vault token may not \(missing.joined(separator: " or ")) \(entry.api) (it has: \(has)); rotation needs \(entry.needs.joined(separator: ", ")) there for \(entry.shown)."
          )
        }
      }
    } catch {
      log.fail(
        "Vault capabilities", clause(error),
        problem: finish("Vault could not report the token's capabilities: \(clause(error))"))
    }
  }

  static func describe(seconds: Int) -> String {
    if seconds >= 86_400 { return "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h" }
    if seconds >= 3600 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
    if seconds >= 60 { return "\(seconds / 60) min" }
    return "\(seconds) s"
  }
}
