import Drift
import Foundation
import LockstepCore
import TestSupport
import Testing

/// `drift --fix` (issue 15): names appended to `keys:` and `dotenv:` files, every other byte
/// kept, and a refusal in one sentence for a source it cannot write.
@Suite struct DriftFixTests {
  func bytes(_ fixture: DriftFixture, _ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/" + path)))
  }

  @Test(arguments: [
    ("lf", "# inventory\nDATABASE_URL\n\n# cache\n", "\n"),
    ("no trailing newline", "# inventory\nDATABASE_URL", "\n"),
    ("crlf", "# inventory\r\nDATABASE_URL\r\n", "\r\n"),
    ("crlf, no trailing newline", "# inventory\r\nDATABASE_URL", "\r\n"),
  ])
  func keysFileKeepsEveryByte(name: String, original: String, newline: String) throws {
    let fixture = try DriftFixture.make()
    try fixture.writeFile("inventory.txt", original)
    let result = try fixture.run([
      "drift", "--expect", "keys:inventory.txt", "--against", "code:{src,cmd}/**/*.{js,py,go}",
      "--fix",
    ])
    #expect(result.status == 2, "\(name): \(result.stderrText)")
    #expect(result.stderrText.contains("added 6 keys to inventory.txt"))
    let after = try bytes(fixture, "inventory.txt")
    let prefix = Array(original.utf8)
    #expect(Array(after.prefix(prefix.count)) == prefix, "\(name): the original bytes changed")
    let separator = original.utf8.last == 0x0A ? "" : newline
    let added = [
      "FEATURE_FLAG", "IRON_SESSION_PASSWORD", "MINIO_ACCESS_KEY", "REDIS_URL", "SESSION_SECRET",
      "STRIPE_KEY",
    ].map { $0 + newline }.joined()
    #expect(String(decoding: after.dropFirst(prefix.count), as: UTF8.self) == separator + added)
    let again = try fixture.run([
      "drift", "--expect", "keys:inventory.txt", "--against", "code:{src,cmd}/**/*.{js,py,go}",
    ])
    #expect(again.status == 0, "\(name): \(again.stdoutText)")
  }

  @Test func dotenvGetsEmptyAssignmentsAndKeepsItsValues() throws {
    let fixture = try DriftFixture.make()
    let original = try bytes(fixture, ".env")
    let result = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "dotenv:.env",
      "--direction", "expect-to-against", "--fix",
    ])
    #expect(result.status == 2)
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
    let after = try bytes(fixture, ".env")
    #expect(Array(after.prefix(original.count)) == original)
    #expect(
      String(decoding: after.dropFirst(original.count), as: UTF8.self)
        == "MINIO_SECRET_KEY=\nREDIS_URL=\n")
    // The inventory, which lacked nothing in this direction, is untouched.
    #expect(!result.stderrText.contains("env_keys.txt"))
  }

  @Test func refusesASourceItCannotWrite() throws {
    let fixture = try DriftFixture.make()
    try fixture.addExternalSecrets()
    let before = try bytes(fixture, "env_keys.txt")
    let result = try fixture.run([
      "drift", "--expect", "keys:env_keys.txt", "--against", "externalsecret:deploy/*.yaml",
      "dotenv:.env", "--fix",
    ])
    #expect(result.status == 1)
    #expect(
      result.stderrText
        == "lockstep: --fix cannot add keys to externalsecret:deploy/*.yaml: it writes only keys: and dotenv: files, and changed nothing\n"
    )
    #expect(try bytes(fixture, "env_keys.txt") == before)
    #expect(fixture.leaksNothing(result.stdoutText + result.stderrText))
  }
}
