import LockstepCore
import Testing

@Suite struct RedactionTests {
  @Test(arguments: [
    ("redis://default:pa55@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
    ("postgres://u:p%40ss@db.example/app?x=1", "postgres://***@db.example/app?x=1"),
    ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
    ("https://vault.example/v1/a@b", "https://vault.example/v1/a@b"),
  ])
  func urlUserinfoIsHidden(input: String, expected: String) {
    #expect(Redaction.url(input) == expected)
  }

  @Test func conninfoPasswordIsHidden() {
    #expect(
      Redaction.conninfo("host=h password=secret user=u") == "host=h password=*** user=u")
    #expect(
      Redaction.conninfo("host=h password='sec ret' user=u") == "host=h password=*** user=u")
  }
}

@Suite struct HardeningTests {
  @Test func coreDumpsCanBeTurnedOff() throws {
    try ProcessHardening.disableCoreDumps()
    #expect(ProcessHardening.coreDumpsDisabled)
  }
}
