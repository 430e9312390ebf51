import Kubernetes
import LockstepCore
import Postgres

/// `doctor --policy`: the policy's requirements, and per system the checks only its
/// targets can make, run by the targets' own preflight on clients built the way doctor
/// builds them (from `environment`, within `clientTimeout`). Requirements that are data
/// (Vault rights, kubectl can-i, Redis commands) doctor renders itself from the list.
extension RotationPreflight {
  public static func doctorPlan(
    policy: RotationPolicy, environment: [String: String], clientTimeout: Duration
  ) -> PreflightPlan {
    let requirements = vaultRequirements(policy) + policy.requirements
    let rendered = Set(
      requirements.filter {
        if case .described = $0.need { return false }
        return true
      }.map(\.name))
    var checks: [String: @Sendable () async -> [PreflightCheck]] = [:]
    for system in Set(policy.requirements.map(\.system)) {
      let targets = policy.targets.filter { target in
        target.requirements(in: policy).contains { $0.system == system }
      }
      checks[system] = {
        var services = RotationServices(environment: environment)
        do {
          services = try Self.doctorServices(
            policy: policy, system: system, environment: environment,
            clientTimeout: clientTimeout)
        } catch {
          return [.fail(system, "\(system) rotation preflight", "\(error)")]
        }
        var subset = policy
        subset.targets = targets
        let found = await RotationPreflight(policy: subset, store: nil, services: services)
          .targets(live: nil)
        return found.filter { $0.system == system && !rendered.contains($0.name) }
      }
    }
    return PreflightPlan(requirements: requirements, targetChecks: checks)
  }

  static func doctorServices(
    policy: RotationPolicy, system: String, environment: [String: String],
    clientTimeout: Duration
  ) throws -> RotationServices {
    var services = RotationServices(environment: environment)
    switch system {
    case PostgresRoleTarget.system:
      services.database = try PostgresRoles(
        configuration: PostgresConfiguration(
          environment: environment, connectTimeout: min(clientTimeout, .seconds(10))))
    case KubernetesDeploymentTarget.system:
      let path = environment["PATH"] ?? "/usr/bin:/bin"
      guard let executable = ChildProcess.which("kubectl", path: path) else { break }
      var configuration = KubectlClient.Configuration(
        executable: executable,
        environment: KubectlClient.Configuration.inheriting(environment),
        commandTimeout: clientTimeout)
      configuration.environment["PATH"] = path
      services.deployments = KubectlDeployments(base: configuration)
    default:
      break
    }
    return services
  }
}
