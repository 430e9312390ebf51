/// The controller that owns a Kubernetes Secret and rewrites it from Vault: External
/// Secrets Operator (an `ExternalSecret`) or Vault Secrets Operator (a `VaultStaticSecret`
/// and its kin). Lockstep must not patch such a Secret (the controller would undo it on its
/// next sync); it asks the owner to refresh and waits for the new values instead.
public struct SecretOwner: Sendable, Equatable, CustomStringConvertible {
  public enum Controller: String, Sendable {
    case externalSecrets = "external-secrets-operator"
    case vaultSecretsOperator = "vault-secrets-operator"

    public var displayName: String {
      switch self {
      case .externalSecrets: "External Secrets Operator"
      case .vaultSecretsOperator: "Vault Secrets Operator"
      }
    }
  }

  public var controller: Controller
  /// `ExternalSecret`, `VaultStaticSecret`, …
  public var kind: String
  /// `external-secrets.io`, `secrets.hashicorp.com`.
  public var group: String
  public var name: String

  public init(controller: Controller, kind: String, group: String, name: String) {
    self.controller = controller
    self.kind = kind
    self.group = group
    self.name = name
  }

  /// `ExternalSecret "aura" (External Secrets Operator)`.
  public var description: String { "\(kind) \"\(name)\" (\(controller.displayName))" }

  /// The fully qualified resource (`externalsecrets.external-secrets.io`), so that no other
  /// API group's resource of the same short name answers.
  public var resource: String { kind.lowercased() + "s." + group }

  /// `external-secrets:ExternalSecret/aura`: how the evidence records the path taken.
  public var evidenceLabel: String { "\(controller.rawValue):\(kind)/\(name)" }

  /// The owner an ownerReference names, when it is one of the known controllers.
  public static func fromOwnerReference(apiVersion: String, kind: String, name: String)
    -> SecretOwner?
  {
    let group = apiVersion.split(separator: "/").first.map(String.init) ?? ""
    guard KubernetesName.problem(name, as: .secret) == nil else { return nil }
    if group == "external-secrets.io" && kind == "ExternalSecret" {
      return SecretOwner(controller: .externalSecrets, kind: kind, group: group, name: name)
    }
    let vso = ["VaultStaticSecret", "VaultDynamicSecret", "VaultPKISecret", "HCPVaultSecretsApp"]
    if group == "secrets.hashicorp.com" && vso.contains(kind) {
      return SecretOwner(controller: .vaultSecretsOperator, kind: kind, group: group, name: name)
    }
    return nil
  }
}
