import Testing

@testable import Vault

/// The one Vault path type: what it refuses, how it encodes, how it compares.
@Suite struct VaultPathTests {
  @Test func refusesWhatCouldLeaveAMountOrConfuseAURL() {
    for text in [
      "", "/secret/a", "secret//a", "secret/./a", "secret/../sys", "..", ".", "a/..",
      "a\u{0}b", "a\nb", "a\u{7f}", "a\u{85}b", "a?b", "a#b", "a/b//",
    ] {
      #expect(throws: VaultError.self, "\(text.debugDescription)") { try VaultPath(text) }
    }
    #expect(throws: VaultError.self) { try VaultPath(segments: ["a", ".."]) }
    #expect(
      VaultError.invalidPath(path: "a\u{1b}[31m", reason: "x").description.contains("\\u{1b}"))
    #expect(VaultError.invalidPath(path: "x", reason: "y").exitStatus == .dataError)
  }

  @Test("the KV v2 API path rule: mount, then the segment, then the path below the mount")
  func kvAPIPaths() {
    let v2 = VaultMount(path: "team/kv/", type: "kv", kvVersion: 2)
    #expect(v2.apiPath("data", "app/db") == "team/kv/data/app/db")
    #expect(v2.apiPath("metadata", "app/db") == "team/kv/metadata/app/db")
    #expect(v2.apiPath("metadata", "") == "team/kv/metadata")
    let v1 = VaultMount(path: "old/", type: "kv", kvVersion: 1)
    #expect(v1.apiPath("data", "app/db") == "old/app/db")
  }

  @Test func encodesEverySegmentAndComparesWholeSegments() throws {
    let path = try VaultPath("kv/a b/é/%2e%2e/x.y~z-_/")
    #expect(path.isFolder)
    #expect(path.escaped == "kv/a%20b/%C3%A9/%252e%252e/x.y~z-_/")
    #expect(path.description == "kv/a b/é/%2e%2e/x.y~z-_/")
    let s1 = try VaultPath("quill/svc/s1")
    #expect(try VaultPath("quill/svc/s1/inner").hasPrefix(s1))
    #expect(try VaultPath("quill/svc/s1").hasPrefix(s1))
    #expect(!(try VaultPath("quill/svc/s10").hasPrefix(s1)))
    #expect(try VaultPath("kv/a/b").dropping(try VaultPath("kv/")) == VaultPath("a/b"))
    #expect(try VaultPath("kvx/a").dropping(try VaultPath("kv")) == nil)
    #expect(try VaultPath("", allowEmpty: true).isEmpty)
    #expect(try VaultPath("kv").appending(VaultPath("a/b")).description == "kv/a/b")
  }

  /// The request funnel's fast path agrees with the full parse on every input.
  @Test func theFastPathAgreesWithTheFullParse() {
    let pieces = ["", ".", "..", "...", "a", "a.b", "-_~", "a b", "é", "%2e", "?", "\u{0}", "/"]
    for first in pieces {
      for second in pieces {
        for separator in ["/", "//", ""] {
          let text = first + separator + second
          let fast = try? VaultPath.escaped(text)
          let full = try? VaultPath(text).escaped
          #expect(fast == full, "\(text.debugDescription)")
        }
      }
    }
  }
}
