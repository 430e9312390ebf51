import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// Where output goes: results on stdout, diagnostics on stderr, colour only on a TTY and
/// only when NO_COLOR is unset.
enum Terminal {
  static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1
  static let stderrIsTTY = isatty(STDERR_FILENO) == 1
  static let colour = ProcessInfo.processInfo.environment["NO_COLOR"] == nil

  static func out(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }

  /// One diagnostic line on stderr, prefixed with the program's name.
  static func error(_ sentence: String) {
    let prefix = stderrIsTTY && colour ? "\u{1B}[31mlockstep:\u{1B}[0m " : "lockstep: "
    FileHandle.standardError.write(Data((prefix + sentence + "\n").utf8))
  }

  static func warn(_ sentence: String) {
    FileHandle.standardError.write(Data(("lockstep: warning: " + sentence + "\n").utf8))
  }

  static func green(_ text: String) -> String { paint(text, "32") }
  static func red(_ text: String) -> String { paint(text, "31") }
  static func dim(_ text: String) -> String { paint(text, "2") }

  private static func paint(_ text: String, _ code: String) -> String {
    stdoutIsTTY && colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
  }
}
