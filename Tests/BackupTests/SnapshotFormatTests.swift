import Crypto
import Foundation
import LockstepCore
import Testing

@testable import Backup

/// The snapshot payload's layout (docs/format.md, "Payload kinds"): version 2 puts the
/// length and digest in a trailer line after the streamed snapshot; version 1 files (both
/// in the header) still open. Checked on the decrypted bytes, without Vault.
struct SnapshotFormatTests {
  static let cluster = #"{"cluster_id":"c","cluster_name":"n","version":"2.1.0"}"#

  static func payload(version: Int, snapshot: [UInt8], trailer: String? = nil) -> SecretBytes {
    let digest = Hex.encode(SHA256.hash(snapshot))
    var header =
      #"{"cluster":\#(cluster),"created":"2026-12-03T20:00:00Z","format":"lockstep-raft-snapshot","record":"header","vault_address":"http://127.0.0.1:8200","version":\#(version)"#
    if version == 1 {
      header += #","snapshot_bytes":\#(snapshot.count),"snapshot_sha256":"\#(digest)""#
    }
    var bytes = Array((header + "}\n").utf8) + snapshot
    if version == 2 {
      let line =
        trailer
        ?? #"{"record":"trailer","snapshot_bytes":\#(snapshot.count),"snapshot_sha256":"\#(digest)"}"#
      bytes += Array(("\n" + line + "\n").utf8)
    }
    return SecretBytes(copying: bytes)
  }

  /// Snapshot bytes that look like the trailer's neighbours: LFs, JSON, a fake trailer.
  static let awkward =
    Array(
      "\n\n{\"record\":\"trailer\",\"snapshot_bytes\":1}\n\u{1f}\u{8b}".utf8)
    + (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }

  @Test(arguments: [[], [0x0A], awkward])
  func version2OpensWhateverTheSnapshotHolds(_ snapshot: [UInt8]) throws {
    let (header, body) = try SnapshotBackup.split(Self.payload(version: 2, snapshot: snapshot))
    #expect(body.unsafeArray() == snapshot)
    #expect(header.version == 2 && header.snapshotBytes == snapshot.count)
    #expect(header.snapshotSHA256 == Hex.encode(SHA256.hash(snapshot)))
    #expect(SnapshotBackup.isSnapshot(Self.payload(version: 2, snapshot: snapshot)))
  }

  @Test func version1FilesStillOpen() throws {
    let (header, body) = try SnapshotBackup.split(Self.payload(version: 1, snapshot: Self.awkward))
    #expect(body.unsafeArray() == Self.awkward)
    #expect(header.version == 1 && header.cluster.clusterName == "n")
  }

  @Test func aCutOrAlteredTrailerIsRefused() throws {
    let whole = Self.payload(version: 2, snapshot: Self.awkward).unsafeArray()
    // Cut anywhere inside the trailer: no trailer, or a snapshot that is not its length.
    for cut in [1, 2, 30, 90] {
      #expect(throws: BackupError.self, "cut \(cut) bytes from the end") {
        try SnapshotBackup.split(SecretBytes(copying: Array(whole.dropLast(cut))))
      }
    }
    let digest = Hex.encode(SHA256.hash(Self.awkward))
    let wrongLength = Self.payload(
      version: 2, snapshot: Self.awkward,
      trailer:
        #"{"record":"trailer","snapshot_bytes":\#(Self.awkward.count - 1),"snapshot_sha256":"\#(digest)"}"#
    )
    let lengthError = #expect(throws: BackupError.self) { try SnapshotBackup.split(wrongLength) }
    #expect(
      "\(lengthError.map { "\($0)" } ?? "")".contains("its trailer says \(Self.awkward.count - 1)"))
    let wrongDigest = Self.payload(
      version: 2, snapshot: Self.awkward,
      trailer:
        #"{"record":"trailer","snapshot_bytes":\#(Self.awkward.count),"snapshot_sha256":"\#(String(repeating: "0", count: 64))"}"#
    )
    #expect(throws: BackupError.self) { try SnapshotBackup.split(wrongDigest) }
    let notATrailer = Self.payload(
      version: 2, snapshot: Self.awkward, trailer: #"{"record":"header"}"#)
    #expect(throws: BackupError.self) { try SnapshotBackup.split(notATrailer) }
    // A version-1 header without its length and digest is not a snapshot file.
    let bare =
      Array(
        #"{"cluster":\#(Self.cluster),"created":"x","format":"lockstep-raft-snapshot","record":"header","vault_address":"a","version":1}"#
          .utf8) + [0x0A] + Self.awkward
    #expect(throws: BackupError.self) { try SnapshotBackup.split(SecretBytes(copying: bare)) }
  }

  @Test func anUnknownVersionIsRefusedByName() throws {
    let error = #expect(throws: BackupError.self) {
      try SnapshotBackup.split(Self.payload(version: 3, snapshot: [1, 2, 3]))
    }
    #expect("\(error.map { "\($0)" } ?? "")".contains("format version 3 is not supported"))
  }
}
