import Foundation
import LockstepCore

/// What a backup destination needs from a bucket, so that the Backup workflow treats S3 and
/// Google Cloud Storage alike and a test can run it against either emulator.
///
/// Keys are full object names inside the bucket (the location's prefix already applied).
/// Every method is async: the transfers block in libcurl on the HTTP module's own threads.
public protocol ObjectStore: Sendable {
  /// `s3://bucket` or `gs://bucket`, for messages.
  var bucketURL: String { get }
  func put(_ key: String, _ bytes: [UInt8]) async throws
  /// Throws `ObjectStoreError.noSuchKey` when absent.
  func get(_ key: String) async throws -> [UInt8]
  /// nil when absent.
  func head(_ key: String) async throws -> ObjectInfo?
  /// Every object whose key starts with `prefix`, sorted by key.
  func list(prefix: String) async throws -> [ObjectInfo]
  /// Succeeds also when the object is already gone (S3's semantics).
  func delete(_ key: String) async throws
  /// Server-side copy inside the bucket; used to commit a verified temporary object.
  func copy(from source: String, to destination: String) async throws
  /// Whether `key` exists (default: `head`; see ObjectUpload.swift).
  func exists(_ key: String) async throws -> Bool
  /// Starts writing `key` as a stream (default: buffered, one `put` at commit).
  func openUpload(_ key: String, options: ObjectWriteOptions) async throws -> any ObjectUpload
  /// Deletes `key` unless a retention (S3 Object Lock) still protects it (default: delete).
  func deleteUnlessRetained(_ key: String) async throws -> DeletionOutcome
  /// Proves the endpoint answers and the credentials may use the bucket; returns one line
  /// for `lockstep doctor`.
  func check() async throws -> String
}

/// One object as a listing or HEAD reports it (no contents).
public struct ObjectInfo: Sendable, Equatable {
  public let key: String
  public let size: Int
  public let lastModified: Date?
  public let etag: String?

  public init(key: String, size: Int, lastModified: Date?, etag: String?) {
    self.key = key
    self.size = size
    self.lastModified = lastModified
    self.etag = etag
  }
}
