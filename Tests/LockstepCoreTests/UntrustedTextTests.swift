import LockstepCore
import Testing

@Suite struct UntrustedTextTests {
  @Test func escapesEveryTerminalControl() {
    let hostile = "\u{1B}[2K\r\u{1B}[32mALL CHECKS PASSED\u{1B}[0m\u{9B}31m\u{7}\u{202E}x"
    let safe = UntrustedText.escaped(hostile)
    #expect(!safe.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
    #expect(!safe.unicodeScalars.contains { $0.value == 0x202E })
    #expect(safe == #"\e[2K\r\e[32mALL CHECKS PASSED\e[0m\u{9B}31m\u{07}\u{202E}x"#)
  }

  @Test func newlinesAreKeptOnlyWhenAsked() {
    #expect(UntrustedText.escaped("a\nb\tc") == #"a\nb\tc"#)
    #expect(UntrustedText.escaped("a\nb\tc", keepingNewlines: true) == "a\nb\tc")
    #expect(UntrustedText.escaped("plain ✔ text") == "plain ✔ text")
  }
}
