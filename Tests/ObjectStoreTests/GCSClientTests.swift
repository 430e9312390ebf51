import Foundation
import LockstepCore
import TestSupport
import Testing

@testable import ObjectStore

/// Against fake-gcs-server, the emulator Google's own client libraries are tested with.
@Suite("GCS client against fake-gcs-server", .enabled(if: GCSEmulator.suitesRun))
struct GCSClientTests {
  @Test func putGetHeadListCopyDelete() async throws {
    let emulator = try GCSEmulator()
    try emulator.createBucket("lockstep-gcs")
    let environment = ["STORAGE_EMULATOR_HOST": "127.0.0.1:\(emulator.port)"]
    let gcs = try ObjectStores.client(
      for: try ObjectLocation(parsing: "gs://lockstep-gcs/backups/"), environment: environment)
    #expect(gcs.bucketURL == "gs://lockstep-gcs")
    let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    try await gcs.put("backups/a b.bin", payload)
    try await gcs.put("backups/c.bin", [1])
    try await gcs.put("else/d.bin", [2])
    #expect(try await gcs.get("backups/a b.bin") == payload)
    #expect(try await gcs.head("backups/a b.bin")?.size == payload.count)
    #expect(try await gcs.head("backups/none") == nil)
    #expect(
      try await gcs.list(prefix: "backups/").map(\.key) == ["backups/a b.bin", "backups/c.bin"])
    try await gcs.copy(from: "backups/c.bin", to: "backups/e.bin")
    #expect(try await gcs.get("backups/e.bin") == [1])
    try await gcs.delete("backups/c.bin")
    try await gcs.delete("backups/c.bin")
    #expect(
      try await gcs.list(prefix: "backups/").map(\.key) == ["backups/a b.bin", "backups/e.bin"])
    #expect(try await gcs.check().contains("gs://lockstep-gcs"))

    await #expect(throws: ObjectStoreError.noSuchKey("gs://lockstep-gcs/backups/none")) {
      try await gcs.get("backups/none")
    }
    let missing = GCSClient(
      bucket: "not-there", configuration: GCSConfiguration(endpoint: emulator.endpoint))
    await #expect(throws: ObjectStoreError.noSuchBucket("not-there")) { try await missing.check() }
    await #expect(throws: ObjectStoreError.noSuchBucket("not-there")) {
      try await missing.get("x")
    }
  }
}
