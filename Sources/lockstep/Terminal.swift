import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// Where output goes: results on stdout, diagnostics on stderr, colour only on a TTY and
/// only when NO_COLOR is unset. Every line is escaped (`UntrustedText`) on its way out, since
/// lines carry server text; only the colours `paint` added, marked with a per-process random
/// token a server cannot guess, become escape sequences again.
enum Terminal {
  static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1
  static let stderrIsTTY = isatty(STDERR_FILENO) == 1
  static let colour = ProcessInfo.processInfo.environment["NO_COLOR"] == nil

  static func out(_ line: String) {
    let safe = line.components(separatedBy: paintMark).map {
      UntrustedText.escaped($0, keepingNewlines: true)
    }.joined(separator: "\u{1B}[")
    FileHandle.standardOutput.write(Data((safe + "\n").utf8))
  }

  /// One diagnostic line on stderr, prefixed with the program's name. The sentence is
  /// escaped whole: a server's text inside it cannot start a new line or paint.
  static func error(_ sentence: String) {
    let prefix = stderrIsTTY && colour ? "\u{1B}[31mlockstep:\u{1B}[0m " : "lockstep: "
    FileHandle.standardError.write(
      Data((prefix + UntrustedText.escaped(sentence) + "\n").utf8))
  }

  static func warn(_ sentence: String) {
    FileHandle.standardError.write(
      Data(("lockstep: warning: " + UntrustedText.escaped(sentence) + "\n").utf8))
  }

  /// Stands for `ESC [` in painted text until `out` writes it.
  private static let paintMark: String = {
    var generator = SystemRandomNumberGenerator()
    return "\u{E000}" + String(generator.next(), radix: 36) + "\u{E001}"
  }()

  static func green(_ text: String) -> String { paint(text, "32") }
  static func red(_ text: String) -> String { paint(text, "31") }
  static func dim(_ text: String) -> String { paint(text, "2") }

  private static func paint(_ text: String, _ code: String) -> String {
    stdoutIsTTY && colour ? "\(paintMark)\(code)m\(text)\(paintMark)0m" : text
  }
}
