import Crypto
import Envelope
import Foundation
import LockstepCore
import Testing
import Vault

@testable import Backup

/// Property tests over hostile envelopes and payloads (issue 10): random headers, stanza
/// counts, lengths and Argon2id parameters, bit flips and cuts of a real file, and random
/// payload paths. Whatever the input: no crash (every failure is a `LockstepError` with a
/// documented exit code), no header accepted beyond the Argon2id work budget, and no
/// restore destination outside the target mount and prefix. Seeded, so a failure repeats.
@Suite struct HostileEnvelopeFuzzTests {
  /// SplitMix64: small, seedable, good enough to spread test cases.
  struct Seeded: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  static let documentedExits: Set<LockstepCore.ExitStatus> = [.dataError, .mismatch, .noPermission]

  /// A header with `stanzas`, a random MAC and a short chunk after it.
  static func envelope(stanzas: [(UInt8, [UInt8])], signed: Bool, rng: inout Seeded) -> [UInt8] {
    var out = Array("LOCKSTEP".utf8) + [2, signed ? 1 : 0]
    out += (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
    if signed { out += (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) } }
    out += [UInt8(stanzas.count >> 8), UInt8(stanzas.count & 0xFF)]
    for (type, body) in stanzas {
      out += [type, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }
    out += (0..<64).map { _ in UInt8.random(in: 0...255, using: &rng) }
    return out
  }

  static func argon2Body(passes: UInt32, memoryKiB: UInt32, rng: inout Seeded) -> [UInt8] {
    var body: [UInt8] = []
    for value in [passes, memoryKiB] {
      body += [24, 16, 8, 0].map { UInt8((value >> UInt32($0)) & 0xFF) }
    }
    return body + (0..<88).map { _ in UInt8.random(in: 0...255, using: &rng) }
  }

  func expectDocumentedRefusal(_ body: () throws -> Void, _ note: String) {
    do {
      try body()
    } catch let error as any LockstepError {
      #expect(Self.documentedExits.contains(error.exitStatus), "\(note): \(error)")
    } catch {
      Issue.record("\(note): not a LockstepError: \(error)")
    }
  }

  @Test func randomHeadersNeverCrashOrExceedTheBudget() throws {
    var rng = Seeded(state: 0x10CC_57E9)
    let identity = try X25519KeyPair.generate()
    let identities: [Identity] = [.x25519(identity), .passphrase(SecretBytes(utf8: "p"))]
    for round in 0..<400 {
      let count = [0, 1, 2, 5, 1024, 1025, Int.random(in: 0...64, using: &rng)].randomElement(
        using: &rng)!
      var stanzas: [(UInt8, [UInt8])] = []
      for _ in 0..<count {
        let type = UInt8.random(in: 0...4, using: &rng)
        switch type {
        case 2 where Bool.random(using: &rng):
          // Mostly cheap (so that derivations the budget allows stay fast), sometimes huge.
          let passes = [1, 2, 4, 5, 64, UInt32.max].randomElement(using: &rng)!
          let memory = [8, 64, 1024, 262_144, 262_145, 4_194_304, UInt32.max].randomElement(
            using: &rng)!
          stanzas.append((2, Self.argon2Body(passes: passes, memoryKiB: memory, rng: &rng)))
        default:
          let length = [0, 1, 80, 95, 96, 97, Int.random(in: 0...300, using: &rng)].randomElement(
            using: &rng)!
          stanzas.append((type, (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        }
      }
      // Keep derivations cheap: a stanza the budget allows with real memory is replaced.
      stanzas = stanzas.map { stanza in
        guard stanza.0 == 2, stanza.1.count == 96 else { return stanza }
        let memory = stanza.1[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let passes = stanza.1[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        if memory > 1024 && memory <= 262_144 && passes <= 4 {
          return (2, Self.argon2Body(passes: passes, memoryKiB: 64, rng: &rng))
        }
        return stanza
      }
      let bytes = Self.envelope(
        stanzas: stanzas, signed: Bool.random(using: &rng), rng: &rng)
      if let header = try? EnvelopeHeader.read(from: MemoryStream(bytes)) {
        let work = header.stanzas.filter { $0.type == 2 }.reduce(UInt64(0)) { sum, stanza in
          let passes = stanza.body[0..<4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
          let memory = stanza.body[4..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
          return sum + passes * memory
        }
        #expect(work <= EnvelopeHeader.maximumArgon2idFileWork, "round \(round)")
        #expect(header.stanzas.count <= EnvelopeHeader.maximumStanzas)
      }
      expectDocumentedRefusal(
        { _ = try EnvelopeFormat.decrypt(bytes, identities: identities) }, "round \(round)")
    }
  }

  @Test func theDocumentedHostileFilesAreRefusedBeforeAnyDerivation() throws {
    var rng = Seeded(state: 207)
    // 207 bytes: one passphrase stanza asking for 4 GiB.
    let small = Self.envelope(
      stanzas: [(2, Self.argon2Body(passes: 1, memoryKiB: 4_194_304, rng: &rng))], signed: false,
      rng: &rng)
    // 1024 passphrase stanzas, each at the per-stanza ceiling: the file is over budget.
    let many = Self.envelope(
      stanzas: (0..<1024).map { _ in
        (2, Self.argon2Body(passes: 3, memoryKiB: 262_144, rng: &rng))
      }, signed: false, rng: &rng)
    for (name, bytes) in [("4 GiB stanza", small), ("1024 stanzas", many)] {
      let started = ContinuousClock.now
      #expect(throws: EnvelopeError.self, "\(name)") {
        _ = try EnvelopeFormat.decrypt(
          bytes, identities: [.passphrase(SecretBytes(utf8: "p"))])
      }
      // No derivation ran: far below a single 256 MiB Argon2id pass.
      #expect(ContinuousClock.now - started < .seconds(2), "\(name)")
    }
  }

  @Test func cutsAndFlipsOfARealFileEndInADocumentedCode() throws {
    var rng = Seeded(state: 0xF11B)
    let identity = try X25519KeyPair.generate()
    let signer = try Ed25519KeyPair.generate()
    let plaintext = (0..<150_000).map { UInt8($0 % 251) }
    let envelope = try EnvelopeFormat.encrypt(
      plaintext,
      to: [.x25519(publicKey: identity.publicKey), .passphrase(SecretBytes(utf8: "p"), .testing)],
      signingKey: signer)
    for round in 0..<300 {
      var bytes = envelope
      switch round % 3 {
      case 0: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
      case 1:
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
          bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(
            in: 1...255, using: &rng)
        }
      default:
        bytes.insert(
          UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0..<bytes.count, using: &rng))
      }
      expectDocumentedRefusal(
        {
          _ = try EnvelopeFormat.decrypt(
            bytes, identities: [.x25519(identity)], expectedSigner: signer.publicKey)
        }, "round \(round)")
    }
  }

  @Test func randomPayloadPathsNeverLeaveTheTargetMountOrPrefix() throws {
    var rng = Seeded(state: 0x9A7B)
    let pieces = [
      "..", ".", "", "a", "b", "s1", "s10", "%2e%2e", "\u{0}", "\u{1b}[31m", "?x", "#", "é",
      "data", "sys", " ", "~",
    ]
    func randomPath() -> String {
      (0..<Int.random(in: 0...4, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }
        .joined(separator: "/") + (Bool.random(using: &rng) ? "/" : "")
    }
    for round in 0..<2000 {
      let mount = [randomPath(), "kv/", "kv", "kvx/"].randomElement(using: &rng)!
      let secret = BackupPayload.Secret(
        mount: mount, path: randomPath(), kvVersion: 2, version: 1, createdTime: nil,
        customMetadata: [:], state: .live, data: SecretBytes(utf8: "{}"))
      let payload = BackupPayload(
        header: .init(
          created: "x", vaultAddress: "x",
          sources: [.init(mount: "kv/", kvVersion: 2, prefix: "")], allVersions: false),
        metadata: [], secrets: [secret])
      let toMount = ["target", nil, "t/../x", "a/b"].randomElement(using: &rng)!
      let prefix = [nil, "a", "s1", "../", "a/b/"].randomElement(using: &rng)!
      let restorer = VaultRestorer(
        vault: VaultClient(configuration: VaultConfiguration(address: "http://127.0.0.1:9")),
        options: .init(toMount: toMount, prefix: prefix))
      do {
        for (entry, target, destination) in try restorer.plan(payload) {
          #expect(destination.hasPrefix(target), "round \(round)")
          #expect(destination.segments.count > target.segments.count)
          let relative = try VaultPath(entry.path)
          #expect(relative.hasPrefix(try VaultPath(prefix ?? "", allowEmpty: true)))
          #expect(!destination.segments.contains { $0 == ".." || $0 == "." || $0.isEmpty })
          #expect(try VaultPath(destination.description) == destination)
        }
      } catch let error as any LockstepError {
        #expect(Self.documentedExits.contains(error.exitStatus), "round \(round): \(error)")
      }
    }
  }
}
