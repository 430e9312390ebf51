import Foundation
import LockstepCore
import TestSupport
import Testing

/// `make lint` runs scripts/check-imports.py: every import of a project module is declared in
/// Package.swift for its target and names something the module declares. (That this package
/// passes is `make lint`'s own job in CI: `swift package dump-package` would wait here for the
/// lock that `swift test` holds on .build.)
@Suite("make lint: project-module imports are declared and used")
struct ImportCheckTests {
  private static let script = Repository.root + "/scripts/check-imports.py"

  @Test func fixtureWithAnUndeclaredAndAnUnusedImportFailsNamingBoth() throws {
    let fixture = Repository.root + "/Tests/Fixtures/ImportCheck"
    let result = try ChildProcess.run(
      "python3", [Self.script, "--root", fixture, "--package-json", fixture + "/package.json"],
      timeout: .seconds(60))
    #expect(result.status == 1)
    let lines = result.stdoutText.split(separator: "\n").map(String.init)
    #expect(
      lines == [
        "Sources/Beta/NamesAlphaOnlyInText.swift:1: unused import of Alpha: nothing it declares"
          + " is named here",
        "Sources/Gamma/ReachesThrough.swift:1: undeclared import of Alpha: add it to the"
          + " dependencies of target Gamma in Package.swift, or remove the import",
      ])
    #expect(result.stderrText.contains("2 import problem(s)"))
  }
}
