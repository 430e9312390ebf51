import Crypto
import Envelope
import Foundation
import LockstepCore
import Testing

@testable import Backup

/// `BackupRewrap` on envelopes held in memory: removing recipients by key, passphrases and
/// Transit keys, the refusals, and version-1 files whose stanzas carry no recipient tag.
@Suite struct BackupRewrapTests {
  let a: X25519KeyPair
  let b: X25519KeyPair
  let c: X25519KeyPair
  let signer: Ed25519KeyPair
  let plaintext: [UInt8]
  static let cheap = Argon2idParameters(iterations: 1, memoryKiB: 64)

  init() throws {
    a = try X25519KeyPair.generate()
    b = try X25519KeyPair.generate()
    c = try X25519KeyPair.generate()
    signer = try Ed25519KeyPair.generate()
    plaintext = CryptoRandom.bytes(count: 150_000)
  }

  func x(_ pair: X25519KeyPair) -> Recipient { .x25519(publicKey: pair.publicKey) }

  func text(_ pair: X25519KeyPair) -> String { Recipient.encode(x25519PublicKey: pair.publicKey) }

  func opens(_ envelope: [UInt8], _ identity: Identity) -> Bool {
    (try? EnvelopeFormat.decrypt(envelope, identities: [identity])) != nil
  }

  func payload(_ envelope: [UInt8]) throws -> [UInt8] {
    let header = try EnvelopeHeader.read(from: MemoryStream(envelope))
    return Array(envelope.dropFirst(header.encoded.count))
  }

  func header(_ envelope: [UInt8]) throws -> EnvelopeHeader {
    try EnvelopeHeader.read(from: MemoryStream(envelope))
  }

  func remove(_ pairs: X25519KeyPair..., transit: [String] = []) -> BackupRewrap.Changes {
    .init(remove: BackupRecipients(recipients: pairs.map(x), transitKeys: transit))
  }

  /// The envelope as lockstep wrote it before version 2: no recipient tags, version byte 1,
  /// header MAC recomputed (this needs the file key, which the test chose).
  static func version1(_ envelope: [UInt8], fileKey: SecretBytes) throws -> [UInt8] {
    let header = try EnvelopeHeader.read(from: MemoryStream(envelope))
    var out = Array("LOCKSTEP".utf8) + [1, header.signerPublicKey == nil ? 0 : 1]
    out += header.payloadSalt + (header.signerPublicKey ?? [])
    out += [UInt8(header.stanzas.count >> 8), UInt8(header.stanzas.count & 0xFF)]
    for stanza in header.stanzas {
      let body = stanza.type == 1 ? Array(stanza.body.dropFirst(16)) : stanza.body
      out += [stanza.type, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }
    let headerKey = HKDF.deriveKey(
      from: fileKey, salt: [], info: Array("lockstep v1 header".utf8), outputByteCount: 32)
    out += HMACSHA256.authenticate(out, key: headerKey)
    return out + envelope.dropFirst(header.encoded.count)
  }

  func encrypt(_ recipients: [Recipient], fileKey: SecretBytes? = nil) throws -> [UInt8] {
    let sink = MemoryStream()
    let writer = try EnvelopeWriter(
      to: sink, recipients: recipients, signingKey: signer, fileKey: fileKey)
    try writer.write(plaintext)
    try writer.finish()
    return sink.bytes
  }

  @Test func removingOneRecipientKeepsTheOthersThePayloadAndTheSignature() throws {
    let original = try encrypt([x(a), x(b), x(c), .passphrase(SecretBytes(utf8: "pw"), Self.cheap)])
    let rewrapped = try BackupRewrap.rewrap(
      original, identities: [.x25519(a)], changes: remove(b)
    ).bytes
    #expect(try payload(rewrapped) == payload(original))
    #expect(try header(rewrapped).stanzas.map(\.type) == [1, 1, 2])
    #expect(!opens(rewrapped, .x25519(b)))
    for identity: Identity in [.x25519(a), .x25519(c), .passphrase(SecretBytes(utf8: "pw"))] {
      let (opened, summary) = try EnvelopeFormat.decrypt(
        rewrapped, identities: [identity], expectedSigner: signer.publicKey)
      #expect(opened.unsafeArray() == plaintext)
      #expect(summary.verifiedSigner == signer.publicKey)
    }
    // The identity that opens the file may remove itself while others remain.
    let withoutA = try BackupRewrap.rewrap(
      rewrapped, identities: [.x25519(a)], changes: remove(a)
    ).bytes
    #expect(!opens(withoutA, .x25519(a)) && opens(withoutA, .x25519(c)))
  }

  @Test func refusesARecipientThatIsNotThereOrTheLastOne() throws {
    let original = try encrypt([x(a), x(b)])
    let missing = #expect(throws: BackupError.recipientNotPresent(text(c))) {
      try BackupRewrap.rewrap(original, identities: [.x25519(a)], changes: remove(c))
    }
    #expect(missing?.exitStatus == .usage)
    #expect(missing?.description.contains("nothing was changed") == true)
    let last = #expect(throws: BackupError.lastRecipient) {
      try BackupRewrap.rewrap(original, identities: [.x25519(a)], changes: remove(a, b))
    }
    #expect(last?.exitStatus == .usage)
    // Removals come first: swapping the only key for another in one run is fine.
    let only = try encrypt([x(a)])
    let swapped = try BackupRewrap.rewrap(
      only, identities: [.x25519(a)],
      changes: .init(
        add: BackupRecipients(recipients: [x(c)]),
        remove: BackupRecipients(recipients: [x(a)]))
    ).bytes
    #expect(!opens(swapped, .x25519(a)) && opens(swapped, .x25519(c)))
    // Adding a recipient who is already there adds no stanza.
    let again = try BackupRewrap.rewrap(
      original, identities: [.x25519(a)],
      changes: .init(add: BackupRecipients(recipients: [x(b)]))
    ).bytes
    #expect(try header(again).stanzas.count == 2)
  }

  @Test func passphrasesAreRemovedAndReplaced() throws {
    let original = try encrypt([x(a), .passphrase(SecretBytes(utf8: "old"), Self.cheap)])
    let changed = try BackupRewrap.rewrap(
      original, identities: [.passphrase(SecretBytes(utf8: "old"))],
      changes: .init(
        add: BackupRecipients(recipients: [.passphrase(SecretBytes(utf8: "new"), Self.cheap)]),
        removePassphrase: true)
    ).bytes
    #expect(!opens(changed, .passphrase(SecretBytes(utf8: "old"))))
    #expect(opens(changed, .passphrase(SecretBytes(utf8: "new"))))
    #expect(opens(changed, .x25519(a)))
    let removed = try BackupRewrap.rewrap(
      changed, identities: [.x25519(a)], changes: .init(removePassphrase: true)
    ).bytes
    #expect(try header(removed).stanzas.map(\.type) == [1])
    #expect(throws: BackupError.recipientNotPresent("a passphrase")) {
      try BackupRewrap.rewrap(
        removed, identities: [.x25519(a)], changes: .init(removePassphrase: true))
    }
    let passphraseOnly = try encrypt([.passphrase(SecretBytes(utf8: "p"), Self.cheap)])
    #expect(throws: BackupError.lastRecipient) {
      try BackupRewrap.rewrap(
        passphraseOnly, identities: [.passphrase(SecretBytes(utf8: "p"))],
        changes: .init(removePassphrase: true))
    }
  }

  /// A Transit stanza (type 3, `mount/key` LF ciphertext) is named by its key; removing
  /// the last way in that does not need Vault is refused.
  @Test func transitKeysAreRemovedByNameButNeverLeftAlone() throws {
    let fileKey = SecretBytes.random(count: 32)
    let transit = Recipient.prewrapped(
      type: 3, body: Array("transit/backup\nvault:v1:not-a-real-ciphertext".utf8))
    let original = try encrypt([x(a), transit], fileKey: fileKey)
    let error = #expect(throws: BackupError.transitOnly) {
      try BackupRewrap.rewrap(original, identities: [.x25519(a)], changes: remove(a))
    }
    #expect(error?.exitStatus == .usage)
    let withoutTransit = try BackupRewrap.rewrap(
      original, identities: [.x25519(a)], changes: remove(transit: ["transit/backup"])
    ).bytes
    #expect(try header(withoutTransit).stanzas.map(\.type) == [1])
    #expect(throws: BackupError.recipientNotPresent("vault-transit:transit/other")) {
      try BackupRewrap.rewrap(
        original, identities: [.x25519(a)], changes: remove(transit: ["transit/other"]))
    }
  }

  /// Version-1 stanzas do not name their recipient: one is identified only when a given
  /// identity opens it; otherwise removal is refused with exit 65, saying to use --recipient.
  @Test func version1FilesNeedTheIdentityOfWhatIsRemoved() throws {
    let fileKey = SecretBytes.random(count: 32)
    let old = try Self.version1(
      try encrypt([x(a), x(b), x(c)], fileKey: fileKey), fileKey: fileKey)
    #expect(try header(old).version == 1)
    #expect(opens(old, .x25519(b)))

    let untagged = #expect(throws: BackupError.recipientsUntagged(recipient: text(b), count: 2)) {
      try BackupRewrap.rewrap(old, identities: [.x25519(a)], changes: remove(b))
    }
    #expect(untagged?.exitStatus == .dataError)
    #expect(untagged?.description.contains("--recipient") == true)

    // With b's identity too, b's stanza is identified and removed; c's stays, untagged.
    let result = try BackupRewrap.rewrap(
      old, identities: [.x25519(a), .x25519(b)], changes: remove(b))
    #expect(result.untaggedStanzas == 1)
    let removed = result.bytes
    let upgraded = try header(removed)
    #expect(upgraded.version == 2)
    #expect(upgraded.stanzas.count == 2)
    #expect(upgraded.stanzas.filter { $0.body.prefix(16).allSatisfy { $0 == 0 } }.count == 1)
    #expect(try payload(removed) == payload(old))
    #expect(!opens(removed, .x25519(b)) && opens(removed, .x25519(c)))
    #expect(throws: BackupError.recipientsUntagged(recipient: text(b), count: 1)) {
      try BackupRewrap.rewrap(removed, identities: [.x25519(a)], changes: remove(b))
    }
    // Replacing the whole set always works.
    let replaced = try BackupRewrap.rewrap(
      old, identities: [.x25519(a)], recipients: BackupRecipients(recipients: [x(c)]),
      replace: true)
    #expect(!opens(replaced, .x25519(a)) && opens(replaced, .x25519(c)))
  }

  /// The tag depends on the file key: the same recipient gets unrelated tags in two files,
  /// and the stanza never contains the public key.
  @Test func tagsDoNotLinkFilesToARecipient() throws {
    let first = try header(try encrypt([x(a)])).stanzas[0].body
    let second = try header(try encrypt([x(a)])).stanzas[0].body
    #expect(first.count == 96 && second.count == 96)
    #expect(first.prefix(16) != second.prefix(16))
    for body in [first, second] {
      #expect(!Hex.encode(body).contains(Hex.encode(a.publicKey.prefix(8))))
    }
  }

  @Test func reSigningNeedsATrustedOldSignerAndChecksEveryChunk() throws {
    let newSigner = try Ed25519KeyPair.generate()
    let signed = try EnvelopeFormat.encrypt(plaintext, to: [x(a)], signingKey: signer)
    let trust = SignerTrust(trusted: [signer.publicKey])
    let resigned = try BackupRewrap.rewrap(
      signed, identities: [.x25519(a)], changes: .init(add: .init(recipients: [x(b)])),
      signingKey: newSigner, trust: trust
    ).bytes
    let (opened, summary) = try EnvelopeFormat.decrypt(
      resigned, identities: [.x25519(b)], expectedSigner: newSigner.publicKey)
    #expect(opened.unsafeArray() == plaintext)
    #expect(summary.verifiedSigner == newSigner.publicKey)
    // Chunks unchanged; only the signer, the stanzas and the trailer differ.
    #expect(
      try payload(resigned).dropLast(64) == payload(signed).dropLast(64))

    // No laundering: an unsigned file, or one by an untrusted key, is not re-signed.
    let unsigned = try EnvelopeFormat.encrypt(plaintext, to: [x(a)])
    #expect(throws: BackupError.unsigned) {
      try BackupRewrap.rewrap(
        unsigned, identities: [.x25519(a)], changes: .init(), signingKey: newSigner, trust: trust)
    }
    #expect(throws: BackupError.noTrustedSigner) {
      try BackupRewrap.rewrap(
        unsigned, identities: [.x25519(a)], changes: .init(), signingKey: newSigner)
    }
    // A chunk altered after signing is caught before anything is signed.
    var altered = signed
    altered[altered.count - 200] ^= 1
    #expect(throws: EnvelopeError.self) {
      try BackupRewrap.rewrap(
        altered, identities: [.x25519(a)], changes: .init(), signingKey: newSigner, trust: trust)
    }
    // --allow-unsigned re-signs an unsigned file (the operator vouches for it).
    let vouched = try BackupRewrap.rewrap(
      unsigned, identities: [.x25519(a)], changes: .init(), signingKey: newSigner,
      trust: .init(allowUnsigned: true)
    ).bytes
    #expect(opens(vouched, .x25519(a)))
    #expect(try header(vouched).signerPublicKey == newSigner.publicKey)
  }
}
