import Foundation
import LockstepCore

/// One evidence trail per rotation, wherever it is resumed: the lock in Vault carries a copy
/// of the chain, and a resume on any machine continues that chain instead of starting a
/// second file with the same rotation id.
extension EvidenceLog {
  /// Makes the file at `path` hold `chain` (the copy of record) or continue it: a missing
  /// or empty file is written from it; a file that already continues it (the same records
  /// and maybe more, written here before a crash) is kept; anything else is refused with
  /// the reason, and the file is left untouched.
  public static func continueChain(at path: String, from chain: Data) throws {
    let report: EvidenceVerifier.Report
    do {
      report = try EvidenceVerifier.verify(
        data: chain, name: "the evidence copy in the lock", expectedKey: nil, allowUnsealed: true)
    } catch {
      throw UserError(
        "the evidence recorded in the lock does not verify (\(error.description)); the trail cannot be continued",
        exit: .dataError)
    }
    guard !report.sealed else {
      throw UserError(
        "the evidence recorded in the lock is already sealed; that rotation finished",
        exit: .dataError)
    }
    let local = FileManager.default.contents(atPath: path) ?? Data()
    if local.starts(with: chain) { return }
    guard chain.starts(with: local) else {
      throw UserError(
        "the evidence file \(path) does not continue the trail recorded in the lock (they differ within its first \(report.records) records); move it aside and resume again to continue the lock's copy",
        exit: .dataError)
    }
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
      )
    }
    let temporary = path + ".tmp-\(getpid())"
    guard
      FileManager.default.createFile(
        atPath: temporary, contents: chain, attributes: [.posixPermissions: 0o600])
    else { throw UserError("could not write the evidence file \(path)") }
    guard rename(temporary, path) == 0 else {
      unlink(temporary)
      throw UserError("could not write the evidence file \(path)")
    }
  }
}
