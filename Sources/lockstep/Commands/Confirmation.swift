import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// The confirmation destructive backup commands ask for (`restore`, `backup prune`,
/// `backup rewrap` with a removal): a typed word on a terminal, `--yes` otherwise.
enum Confirmation {
  /// Returns when confirmed; throws (64 off a terminal without `--yes`, 1 when declined).
  static func require(_ question: String, word: String, yes: Bool, flagHint: String) throws {
    if yes { return }
    guard isatty(STDIN_FILENO) == 1 else {
      throw UserError(
        "refusing to \(flagHint) without confirmation: pass --yes when not on a terminal",
        exit: .usage)
    }
    FileHandle.standardError.write(Data("\(question) Type '\(word)' to go on: ".utf8))
    guard readLine()?.trimmingCharacters(in: .whitespaces) == word else {
      throw UserError("not confirmed; nothing was changed", exit: .failure)
    }
  }
}
