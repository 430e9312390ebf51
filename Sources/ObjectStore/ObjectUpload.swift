import Foundation
import LockstepCore

/// One object being written as a stream: bytes go in as they are produced and the object
/// appears under its key only at `commit()`, whole, never overwriting an existing one.
/// Not `Sendable` by itself: one writer at a time (the backup serialises its writes).
public protocol ObjectUpload: AnyObject {
  /// Appends `bytes`. May block while a full part is sent (S3 multipart): the caller's
  /// thread must be one that may block (an HTTP pool thread or a dedicated thread).
  func write(_ bytes: UnsafeRawBufferPointer) throws
  /// Sends what is left and makes the object visible. Throws
  /// `ObjectStoreError.alreadyExists` when another writer created the key meanwhile.
  func commit() async throws
  /// Drops whatever was sent (an unfinished multipart upload); never throws.
  func abort() async
  /// HTTP requests this upload sent so far (benchmarks and tests count them).
  var requests: Int { get }
}

/// How an object is written.
public struct ObjectWriteOptions: Sendable, Equatable {
  /// S3 Object Lock: the object may not be deleted or overwritten before this date.
  public var retainUntil: Date?
  public var retentionMode: RetentionMode

  public enum RetentionMode: String, Sendable, CaseIterable {
    /// Nobody, the root account included, can shorten or remove the retention.
    case compliance = "COMPLIANCE"
    /// Users with `s3:BypassGovernanceRetention` can.
    case governance = "GOVERNANCE"
  }

  public init(retainUntil: Date? = nil, retentionMode: RetentionMode = .compliance) {
    self.retainUntil = retainUntil
    self.retentionMode = retentionMode
  }
}

/// What `deleteUnlessRetained` did.
public enum DeletionOutcome: Sendable, Equatable {
  case deleted
  /// Under Object Lock retention (or a legal hold): left in place; deletable from `until`
  /// (nil when the store did not say, e.g. a legal hold).
  case retained(until: Date?)
}

extension ObjectStore {
  /// Whether `key` exists. The default asks `head`; S3 does it in one request that also
  /// tells a missing bucket from a missing key.
  public func exists(_ key: String) async throws -> Bool {
    try await head(key) != nil
  }

  /// The default buffers the object in memory and puts it at commit (GCS).
  public func openUpload(_ key: String, options: ObjectWriteOptions) async throws
    -> any ObjectUpload
  {
    if options.retainUntil != nil {
      throw ObjectStoreError.unsupported(
        "\(bucketURL) does not support --retain-days (S3 Object Lock only)")
    }
    return BufferedUpload(store: self, key: key)
  }

  public func deleteUnlessRetained(_ key: String) async throws -> DeletionOutcome {
    try await delete(key)
    return .deleted
  }
}

/// An upload held in memory and sent with one `put` at commit.
final class BufferedUpload: ObjectUpload {
  let store: any ObjectStore
  let key: String
  private var bytes: [UInt8] = []
  private(set) var requests = 0

  init(store: any ObjectStore, key: String) {
    self.store = store
    self.key = key
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    self.bytes.append(contentsOf: bytes)
  }

  func commit() async throws {
    requests += 2
    if try await store.head(key) != nil {
      throw ObjectStoreError.alreadyExists("\(store.bucketURL)/\(key)")
    }
    try await store.put(key, bytes)
  }

  func abort() async {}
}
