import ArgumentParser

extension Lockstep {
  /// Hidden: traps on purpose, so a test proves what a crash prints (docs/security.md).
  struct CrashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "_crash", abstract: "Crash on purpose (for tests).", shouldDisplay: false)

    func run() throws {
      let values = [Int](repeating: 0x5EC7_E75E_C7E7, count: 4)
      // An index out of range: a trap the optimiser cannot remove.
      let index = CommandLine.arguments.count + 7
      print(values[index])
    }
  }
}
