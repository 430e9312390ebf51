import Foundation
import LockstepCore

extension KubectlClient {
  /// The controller that owns Secret `name` (ownerReferences first; then ESO's and VSO's
  /// labels and annotations, for a Secret an ExternalSecret merges into without owning it),
  /// or nil when none does or the Secret does not exist. Only metadata names are read: the
  /// go-template prints owner references, label pairs and annotation *keys* (an annotation
  /// such as kubectl's last-applied-configuration can hold values), never data.
  public func secretOwner(_ name: String) async throws(KubernetesError) -> SecretOwner? {
    _ = try KubernetesName.checked(name, as: .secret)
    let template =
      #"{{range .metadata.ownerReferences}}owner {{.apiVersion}} {{.kind}} {{.name}}{{"\n"}}{{end}}"#
      + #"{{range $k, $v := .metadata.labels}}label {{$k}}={{$v}}{{"\n"}}{{end}}"#
      + #"{{range $k, $v := .metadata.annotations}}annotation {{$k}}{{"\n"}}{{end}}"#
    let result: ChildProcess.Result
    do {
      result = try await kubectl(
        ["get", "secret", "-o=go-template=\(template)", "--", name],
        action: "read the owner of secret \"\(name)\"", target: (kind: "secret", name: name))
    } catch {
      if case .notFound = error { return nil }
      throw error
    }
    var esoManaged = false
    var vsoManaged = false
    for line in result.stdoutText.split(separator: "\n") {
      let fields = line.split(separator: " ").map(String.init)
      if fields.first == "owner", fields.count == 4,
        let owner = SecretOwner.fromOwnerReference(
          apiVersion: fields[1], kind: fields[2], name: fields[3])
      {
        return owner
      }
      if fields.first == "label" || fields.first == "annotation", fields.count == 2 {
        if fields[1].hasPrefix("reconcile.external-secrets.io/") { esoManaged = true }
        if fields[1] == "app.kubernetes.io/managed-by=hashicorp-vso" { vsoManaged = true }
      }
    }
    if esoManaged {
      // creationPolicy Merge or Orphan: no ownerReference; the ExternalSecret that names
      // this Secret as its target is the one to ask.
      guard let owner = try await externalSecret(targeting: name) else {
        throw .unmanagedOwner(
          secret: name,
          detail: "it carries External Secrets Operator's marks, but no ExternalSecret in "
            + "namespace \"\(namespaceLabel)\" targets it")
      }
      return owner
    }
    if vsoManaged {
      throw .unmanagedOwner(
        secret: name,
        detail: "it is labelled as Vault Secrets Operator's, but has no owner reference to "
          + "the VaultStaticSecret that writes it")
    }
    return nil
  }

  /// The ExternalSecret whose target is Secret `secret` (its `spec.target.name`, or its
  /// own name when that is unset).
  func externalSecret(targeting secret: String) async throws(KubernetesError) -> SecretOwner? {
    struct List: Decodable {
      struct Item: Decodable {
        struct Metadata: Decodable { var name: String }
        struct Spec: Decodable {
          struct Target: Decodable { var name: String? }
          var target: Target?
        }
        var metadata: Metadata
        var spec: Spec?
      }
      var items: [Item]
    }
    let json = try await externalSecretObjects(named: nil)
    guard let list = try? JSONDecoder().decode(List.self, from: Data(json)) else {
      throw .unexpectedOutput(action: "read the ExternalSecret objects")
    }
    let match = list.items.first { ($0.spec?.target?.name ?? $0.metadata.name) == secret }
    return match.flatMap {
      SecretOwner.fromOwnerReference(
        apiVersion: "external-secrets.io/v1", kind: "ExternalSecret", name: $0.metadata.name)
    }
  }

  /// Asks the owner to sync now. ESO: the `force-sync` annotation set to `stamp` (ESO
  /// documents `kubectl annotate es NAME force-sync=$(date +%s) --overwrite`); any change
  /// of it makes the controller reconcile. VSO documents no on-demand trigger for a
  /// VaultStaticSecret (it syncs on spec changes, every `refreshAfter`, or on Vault events
  /// with `syncConfig.instantUpdates`), so nothing is written and false is returned: the
  /// caller only waits.
  @discardableResult
  public func requestSync(_ owner: SecretOwner, stamp: String) async throws(KubernetesError)
    -> Bool
  {
    guard owner.controller == .externalSecrets else { return false }
    _ = try KubernetesName.checked(owner.name, as: .secret)
    guard stamp.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
      throw .invalidValue(key: "force-sync", reason: "the stamp must be letters, digits and '-'")
    }
    try await kubectl(
      ["annotate", "--overwrite", owner.resource, "--", owner.name, "force-sync=\(stamp)"],
      action: "ask \(owner) to sync", target: (kind: owner.kind, name: owner.name))
    return true
  }

  /// The keys of Secret `name` whose value is not yet the given one, compared by keyed
  /// digests: `digest` (an HMAC under a key of the caller's run) is applied to the base64
  /// text of each expected value and to the base64 text the API holds (Kubernetes encodes
  /// `data` canonically), and only digests are compared. Values are never printed, logged
  /// or compared directly. A missing Secret or key counts as not yet holding the value.
  public func keysDiffering(
    in name: String, from values: [String: SecretBytes],
    digest: (UnsafeRawBufferPointer) -> [UInt8]
  ) async throws(KubernetesError) -> [String] {
    _ = try KubernetesName.checked(name, as: .secret)
    let keys = values.keys.sorted()
    for key in keys where !Self.isDataKey(key) {
      throw .invalidValue(key: key, reason: "not a valid Secret key")
    }
    // One line per key, in order: its base64 text, or nothing when the key is absent.
    let template = keys.map { #"{{with index .data "\#($0)"}}{{.}}{{end}}{{"\n"}}"# }.joined()
    let result: ChildProcess.Result
    do {
      result = try await kubectl(
        ["get", "secret", "-o=go-template=\(template)", "--", name],
        action: "compare the keys of secret \"\(name)\"", target: (kind: "secret", name: name),
        stdin: nil)
    } catch {
      if case .notFound = error { return keys }
      throw error
    }
    var lines = result.stdout.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.count > keys.count { lines.removeLast(lines.count - keys.count) }
    var differing: [String] = []
    for (index, key) in keys.enumerated() {
      let live = index < lines.count ? lines[index] : []
      let expected = SecretJSON.base64Text(values[key]!)
      let same = expected.withUnsafeBytes { digest($0) } == live.withUnsafeBytes { digest($0) }
      if !same || live.isEmpty { differing.append(key) }
    }
    return differing
  }

  /// A Secret data key (IsConfigMapKey): `[-._a-zA-Z0-9]+`, ≤ 253; also what keeps a key
  /// from changing the go-template it is placed in.
  static func isDataKey(_ key: String) -> Bool {
    !key.isEmpty && key.utf8.count <= 253
      && key.utf8.allSatisfy { byte in
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
          || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
          || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
          || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
      }
  }
}
