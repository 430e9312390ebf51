import Crypto
import LockstepCore

/// The recipient stanzas of an opened envelope, each X25519 one labelled with its recipient
/// tag when that is known: what `EnvelopeFormat.rewrap` lets a caller edit.
///
/// A tag is known when the stanza carries one (format version 2) or when one of the
/// identities given opens it (a version-1 stanza, or one carried over from version 1).
/// Tags are keyed by the file key, so only someone who can open the file can ask whether a
/// public key is among its recipients. Not `Sendable`: it holds the file key for one edit.
public struct RecipientStanzas {
  private struct Entry {
    let type: UInt8
    /// For X25519: the sealed box alone; otherwise the whole stanza body.
    let body: [UInt8]
    /// For X25519: the recipient tag, nil when unknown.
    let tag: [UInt8]?
  }

  /// How removing an X25519 recipient went.
  public enum Removal: Sendable, Equatable {
    /// This many stanzas for the key were removed (more than one if it was added twice).
    case removed(Int)
    /// Every X25519 stanza has a known tag and none is this key's.
    case notPresent
    /// No tagged stanza is this key's, but this many stanzas have no known tag: the key may
    /// be behind one of them.
    case unknown(untagged: Int)
  }

  private var entries: [Entry]
  private let fileKey: SecretBytes
  private let payloadSalt: [UInt8]
  /// Changed by a rewrap that re-signs.
  var signerPublicKey: [UInt8]?

  init(header: EnvelopeHeader, fileKey: SecretBytes, identities: [Identity]) throws {
    self.fileKey = fileKey
    payloadSalt = header.payloadSalt
    signerPublicKey = header.signerPublicKey
    let pairs: [X25519KeyPair] = identities.compactMap {
      if case .x25519(let pair) = $0 { return pair }
      return nil
    }
    entries = try header.stanzas.map { stanza in
      guard stanza.type == EnvelopeHeader.Stanza.x25519 else {
        return Entry(type: stanza.type, body: stanza.body, tag: nil)
      }
      let (tag, sealedBox) = try header.x25519Parts(stanza)
      let opener =
        tag == nil ? pairs.first { (try? SealedBox.open(sealedBox, with: $0)) != nil } : nil
      return Entry(
        type: stanza.type, body: sealedBox,
        tag: tag ?? opener.map { EnvelopeKeys.recipientTag(fileKey, publicKey: $0.publicKey) })
    }
  }

  /// The type of each stanza, in order.
  public var types: [UInt8] { entries.map(\.type) }

  /// X25519 stanzas whose recipient is not known.
  public var untaggedCount: Int {
    entries.filter { $0.type == EnvelopeHeader.Stanza.x25519 && $0.tag == nil }.count
  }

  /// Whether a stanza with a known tag belongs to `publicKey`.
  public func contains(x25519PublicKey publicKey: [UInt8]) -> Bool {
    let tag = EnvelopeKeys.recipientTag(fileKey, publicKey: publicKey)
    return entries.contains { $0.tag.map { ConstantTime.equal($0, tag) } ?? false }
  }

  /// Removes the stanzas of the X25519 recipient `publicKey`.
  public mutating func remove(x25519PublicKey publicKey: [UInt8]) -> Removal {
    let tag = EnvelopeKeys.recipientTag(fileKey, publicKey: publicKey)
    let before = entries.count
    entries.removeAll { $0.tag.map { ConstantTime.equal($0, tag) } ?? false }
    if entries.count < before { return .removed(before - entries.count) }
    let untagged = untaggedCount
    return untagged == 0 ? .notPresent : .unknown(untagged: untagged)
  }

  /// Removes the stanzas of `type` whose body satisfies `predicate` (not for X25519, whose
  /// bodies say nothing about their recipient); returns how many.
  @discardableResult
  public mutating func removeAll(type: UInt8, where predicate: ([UInt8]) -> Bool) -> Int {
    precondition(type != EnvelopeHeader.Stanza.x25519, "X25519 stanzas are removed by key")
    let before = entries.count
    entries.removeAll { $0.type == type && predicate($0.body) }
    return before - entries.count
  }

  public mutating func removeAll() { entries.removeAll() }

  /// Wraps the file key for `recipient`. Returns false, adding nothing, when an X25519
  /// recipient already has a stanza with a known tag.
  @discardableResult
  public mutating func add(_ recipient: Recipient) throws -> Bool {
    if case .x25519(let publicKey) = recipient, contains(x25519PublicKey: publicKey) {
      return false
    }
    let stanza = try EnvelopeWriter.wrap(
      fileKey, for: recipient, random: { CryptoRandom.bytes(count: $0) }, deterministic: false)
    if stanza.type == EnvelopeHeader.Stanza.x25519 {
      let tagLength = EnvelopeKeys.recipientTagLength
      guard stanza.body.count == tagLength + 32 + SealedBox.overhead else {
        throw EnvelopeError.malformedHeader("an X25519 stanza is not 96 bytes long")
      }
      entries.append(
        Entry(
          type: stanza.type, body: Array(stanza.body[tagLength...]),
          tag: Array(stanza.body[0..<tagLength])))
    } else {
      entries.append(Entry(type: stanza.type, body: stanza.body, tag: nil))
    }
    return true
  }

  /// The version-2 header for the stanzas as they are now: X25519 stanzas without a known
  /// tag get the all-zero tag.
  func header() throws -> EnvelopeHeader {
    let zero = [UInt8](repeating: 0, count: EnvelopeKeys.recipientTagLength)
    let stanzas = entries.map { entry in
      entry.type == EnvelopeHeader.Stanza.x25519
        ? EnvelopeHeader.Stanza(type: entry.type, body: (entry.tag ?? zero) + entry.body)
        : EnvelopeHeader.Stanza(type: entry.type, body: entry.body)
    }
    return try EnvelopeHeader.make(
      fileKey: fileKey, payloadSalt: payloadSalt, signerPublicKey: signerPublicKey,
      stanzas: stanzas)
  }
}
