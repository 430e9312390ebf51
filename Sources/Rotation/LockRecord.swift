import Foundation
import LockstepCore

/// The rotation lock as stored in Vault (KV v2, written with `cas=0`). It doubles as the
/// rotation's journal of record: every completed step is added to `steps` with a CAS write,
/// so `rotate resume` on any machine knows where to continue; and it carries the evidence
/// chain written so far (`evidence_chain`), so a responder on another machine continues the
/// same trail. It holds no secret values.
///
/// A record read back from Vault is untrusted input (anyone with write access to the lock
/// path can plant one): `parse` accepts only a UUID rotation id, known step names in
/// protocol order and printable text, and nothing in it ever names a local path.
public struct LockRecord: Sendable, Equatable {
  public var rotationID: String
  public var owner: String
  public var host: String
  public var pid: Int32
  public var startedAt: Date
  public var expiresAt: Date
  /// Completed steps, in protocol order, plus `deploy:NAMESPACE/DEPLOYMENT` markers.
  public var steps: [String]
  /// The evidence records written so far (JSON Lines), a copy of the local chain.
  public var evidenceChain: String
  /// The SHA-256 of the policy file the rotation started with.
  public var policyDigest: String
  /// The public key (`lockstepsig1…`) sealing the evidence, so `status` can name the key
  /// `resume` needs.
  public var signer: String
  /// Where the starting host kept that key (a hint for the exact resume command; printed,
  /// never opened by anyone but the operator who types it).
  public var signingKeyFile: String = ""

  var values: [String: SecretBytes] {
    [
      "rotation_id": SecretBytes(utf8: rotationID), "owner": SecretBytes(utf8: owner),
      "host": SecretBytes(utf8: host), "pid": SecretBytes(utf8: String(pid)),
      "started_at": SecretBytes(utf8: Self.format(startedAt)),
      "expires_at": SecretBytes(utf8: Self.format(expiresAt)),
      "steps": SecretBytes(utf8: steps.joined(separator: ",")),
      "evidence_chain": SecretBytes(utf8: evidenceChain),
      "policy_sha256": SecretBytes(utf8: policyDigest),
      "signer": SecretBytes(utf8: signer),
      "signing_key_file": SecretBytes(utf8: signingKeyFile),
    ]
  }

  init(
    rotationID: String, owner: String, host: String, pid: Int32, startedAt: Date,
    expiresAt: Date, steps: [String], evidenceChain: String = "", policyDigest: String = "",
    signer: String = ""
  ) {
    self.rotationID = rotationID
    self.owner = owner
    self.host = host
    self.pid = pid
    self.startedAt = startedAt
    self.expiresAt = expiresAt
    self.steps = steps
    self.evidenceChain = evidenceChain
    self.policyDigest = policyDigest
    self.signer = signer
  }

  /// Why a record read from Vault is refused; the sentence never quotes the planted text.
  public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
  }

  /// Validates a record read from Vault field by field.
  public static func parse(values: [String: SecretBytes]) throws(Invalid) -> LockRecord {
    func text(_ key: String) -> String? { values[key]?.unsafeUTF8String() }
    guard let id = text("rotation_id"), let owner = text("owner"), let host = text("host"),
      let started = text("started_at").flatMap(Self.parse),
      let expires = text("expires_at").flatMap(Self.parse)
    else { throw Invalid(description: "it is not a Lockstep lock record") }
    guard Self.isRotationID(id) else {
      throw Invalid(description: "its rotation_id is not a UUID")
    }
    for (name, value) in [("owner", owner), ("host", host)] {
      guard !value.isEmpty, value.utf8.count <= 256, Self.isPrintable(value) else {
        throw Invalid(description: "its \(name) is empty, too long or holds control characters")
      }
    }
    guard let pid = Int32(text("pid") ?? "0"), pid >= 0 else {
      throw Invalid(description: "its pid is not a process id")
    }
    let steps = (text("steps") ?? "").split(separator: ",").map(String.init)
    if let problem = Self.stepProblem(steps) { throw Invalid(description: problem) }
    let signer = text("signer") ?? ""
    guard signer.isEmpty || (signer.utf8.count <= 128 && Self.isPrintable(signer)) else {
      throw Invalid(description: "its signer is not a public key")
    }
    let digest = text("policy_sha256") ?? ""
    guard digest.isEmpty || (digest.count == 64 && digest.allSatisfy(\.isHexDigit)) else {
      throw Invalid(description: "its policy_sha256 is not a SHA-256")
    }
    let keyFile = text("signing_key_file") ?? ""
    guard keyFile.utf8.count <= 4096, Self.isPrintable(keyFile) else {
      throw Invalid(description: "its signing_key_file holds control characters")
    }
    var record = LockRecord(
      rotationID: id, owner: owner, host: host, pid: pid, startedAt: started,
      expiresAt: expires, steps: steps, evidenceChain: text("evidence_chain") ?? "",
      policyDigest: digest, signer: signer)
    record.signingKeyFile = keyFile
    return record
  }

  /// A lower-case UUID, the only form Lockstep writes; it names local files, so nothing
  /// else (no `/`, no `..`) may pass.
  static func isRotationID(_ text: String) -> Bool {
    guard text.utf8.count == 36, UUID(uuidString: text) != nil else { return false }
    return text.utf8.allSatisfy {
      (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2D
    }
  }

  static func isPrintable(_ text: String) -> Bool {
    text.unicodeScalars.allSatisfy { !($0.properties.generalCategory == .control) }
  }

  /// The step list must be a prefix of the protocol's steps, in order, with deploy markers
  /// only after promote and only for names that are Kubernetes names.
  static func stepProblem(_ steps: [String]) -> String? {
    let order = Rotator.Step.allCases.map(\.rawValue)
    var next = 0
    var promoted = false
    for step in steps {
      if step.hasPrefix("deploy:") {
        let parts = step.dropFirst("deploy:".count).split(separator: "/").map(String.init)
        guard promoted, parts.count == 2, parts.allSatisfy(Self.isKubernetesName) else {
          return "its steps name a deploy marker that no rotation writes"
        }
        continue
      }
      guard next < order.count, step == order[next] else {
        return "its steps are not the protocol's steps in order"
      }
      if step == "promote" { promoted = true }
      next += 1
    }
    return nil
  }

  static func isKubernetesName(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.count <= 253 && text.utf8.first != 0x2D
      && text.utf8.allSatisfy {
        (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x2E
      }
  }

  /// "alice on host db-admin-1 (pid 4242), started 2026-11-26T23:00:00Z, expires …"
  public var holder: String {
    "\(owner) on host \(host) (pid \(pid)), started \(Self.format(startedAt)), expires \(Self.format(expiresAt))"
  }

  static func format(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
  }

  static func parse(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
}
