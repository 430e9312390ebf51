import Envelope
import Foundation
import LockstepCore
import ObjectStore

#if canImport(Glibc)
  import Glibc
#endif

/// One backup being written to one destination as a stream: a 0600 temporary file beside
/// the target (fsync + rename at commit), or an object upload (S3 multipart, see
/// `S3Upload`). Until `commit()` nothing exists under the backup's name.
final class BackupUpload {
  private enum Target {
    case file(AtomicFile, path: String)
    case object(any ObjectUpload, url: String)
  }

  private let target: Target

  private init(_ target: Target) { self.target = target }

  static func open(
    _ destination: BackupDestination, name: String, options: ObjectWriteOptions
  ) async throws -> BackupUpload {
    switch destination {
    case .directory(let directory):
      if options.retainUntil != nil {
        throw BackupError.usage(
          "--retain-days needs an s3:// destination with Object Lock; \(directory) is a directory."
        )
      }
      let path = (directory as NSString).appendingPathComponent(name)
      try BackupDestination.makeDirectory(directory)
      guard access(path, F_OK) != 0 else { throw BackupError.destinationExists(path) }
      return BackupUpload(.file(try AtomicFile(path: path, mode: 0o600), path: path))
    case .bucket(let location, let store):
      let key = location.key(name)
      return BackupUpload(
        .object(
          try await store.openUpload(key, options: options), url: location.url(key: key)))
    }
  }

  /// Picks the first name (`name(1)`, `name(2)`…) free in every destination, and opens an
  /// upload of it in each. The probe is the destinations' preflight too: a missing bucket
  /// or refused credentials fail here, before Vault is read (one `GET` per bucket).
  static func openFree(
    _ destinations: [BackupDestination], options: ObjectWriteOptions,
    name: (Int) -> String
  ) async throws -> (String, [BackupUpload]) {
    var sequence = 1
    var candidate = name(sequence)
    // Two backups in the same second get -2, -3…: never overwrite, never fail for that.
    search: while true {
      for destination in destinations where try await destination.exists(name: candidate) {
        sequence += 1
        candidate = name(sequence)
        continue search
      }
      break
    }
    var uploads: [BackupUpload] = []
    do {
      for destination in destinations {
        uploads.append(try await open(destination, name: candidate, options: options))
      }
    } catch {
      for upload in uploads { await upload.abort() }
      throw error
    }
    return (candidate, uploads)
  }

  /// Requests sent to an object store so far (0 for a file).
  var requests: Int {
    if case .object(let upload, _) = target { return upload.requests }
    return 0
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    switch target {
    case .file(let file, _): try file.write(bytes)
    case .object(let upload, _): try upload.write(bytes)
    }
  }

  /// Makes the backup visible under its name; returns its path or URL.
  func commit() async throws -> String {
    switch target {
    case .file(let file, let path):
      try file.commit()
      return path
    case .object(let upload, let url):
      do {
        try await upload.commit()
      } catch ObjectStoreError.alreadyExists {
        throw BackupError.destinationExists(url)
      }
      return url
    }
  }

  /// Drops what was written (the temporary file, an unfinished multipart upload).
  func abort() async {
    switch target {
    case .file(let file, _): file.discard()
    case .object(let upload, _): await upload.abort()
    }
  }
}

/// The envelope's output, copied to every destination's upload; counts the bytes.
final class BackupFanOut: ByteSink {
  let uploads: [BackupUpload]
  private(set) var bytes = 0

  init(_ uploads: [BackupUpload]) { self.uploads = uploads }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    for upload in uploads { try upload.write(bytes) }
    self.bytes += bytes.count
  }
}

/// Hands a non-`Sendable` value (an envelope writer and the uploads behind it) to one
/// dedicated thread while the caller awaits it. `@unchecked Sendable`: only one thread uses
/// the value at a time, the caller resuming only after that thread is done.
final class SendableBox<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
