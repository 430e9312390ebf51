import Drift
import Foundation
import TestSupport
import Testing

/// Issue 11 item 6: `code:` globs never follow a symlinked directory twice and never leave
/// the root the pattern names.
@Suite struct GlobTests {
  func tree() throws -> String {
    let root = try TemporaryDirectory.make(prefix: "glob")
    let manager = FileManager.default
    for directory in ["repo/src/lib", "repo/other", "outside"] {
      try manager.createDirectory(
        atPath: root + "/" + directory, withIntermediateDirectories: true)
    }
    for file in ["repo/src/a.js", "repo/src/lib/b.js", "repo/other/c.js", "outside/d.js"] {
      try "process.env.X\n".write(toFile: root + "/" + file, atomically: true, encoding: .utf8)
    }
    let links = [
      ("repo/src/self", "."), ("repo/src/parent", ".."), ("repo/src/up", "../.."),
      ("repo/src/slash", "/"), ("repo/src/alias", "lib"), ("repo/src/lib/loop", "../lib"),
      ("repo/src/escape.js", "../../outside/d.js"),
    ]
    for (link, target) in links {
      try manager.createSymbolicLink(atPath: root + "/" + link, withDestinationPath: target)
    }
    return root
  }

  @Test func symlinkLoopsAndEscapesAreNotFollowed() throws {
    let root = try tree()
    let started = ContinuousClock.now
    let files = Glob.files(matching: root + "/repo/src/**/*.js")
    #expect(ContinuousClock.now - started < .seconds(10))
    let relative = files.map { file in
      file.range(of: "/repo/").map { "repo/" + file[$0.upperBound...] } ?? file
    }
    // b.js once, through whichever path reached lib first; nothing outside src.
    #expect(relative.contains("repo/src/a.js"))
    #expect(relative.filter { $0.hasSuffix("/b.js") }.count == 1, "\(relative)")
    #expect(!relative.contains { $0.hasSuffix("c.js") || $0.hasSuffix("d.js") }, "\(relative)")
    #expect(!relative.contains("repo/src/escape.js"))
    #expect(relative.count == 2, "\(relative)")
  }

  /// A relative pattern is read from the working directory and its matches stay relative.
  /// The test reaches its tree by `../` from the working directory instead of changing it:
  /// the working directory belongs to the whole test process, whose suites run in parallel
  /// and start children that inherit it.
  @Test func relativePatternsStayRelative() throws {
    let root = try tree()
    let depth = FileManager.default.currentDirectoryPath.split(separator: "/").count
    let repo =
      String(repeating: "../", count: depth) + root.split(separator: "/").joined(separator: "/")
      + "/repo"
    let files = Glob.files(matching: repo + "/src/**/*.js")
    #expect(files.contains(repo + "/src/a.js"), "\(files)")
    #expect(files.filter { $0.hasSuffix("/b.js") }.count == 1, "\(files)")
    #expect(files.allSatisfy { $0.hasPrefix(repo + "/src/") }, "\(files)")
    #expect(Glob.files(matching: repo + "/src/a.js") == [repo + "/src/a.js"])
    #expect(
      Glob.files(matching: repo + "/{src,other}/*.js") == [
        repo + "/other/c.js", repo + "/src/a.js",
      ])
  }
}
