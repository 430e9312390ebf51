import LockstepCore
import Testing

@testable import Redis

@Suite("REDIS_URL parsing")
struct RedisConfigurationTests {
  @Test func hostPortAndDatabase() throws {
    let configuration = try RedisConfiguration(url: "redis://cache.internal:6380/3")
    #expect(configuration.endpoint == .tcp(host: "cache.internal", port: 6380))
    #expect(configuration.database == 3)
    #expect(configuration.username == nil)
    #expect(configuration.password == nil)
  }

  @Test func defaultsArePort6379AndDatabase0() throws {
    let configuration = try RedisConfiguration(url: "redis://localhost")
    #expect(configuration.endpoint == .tcp(host: "localhost", port: 6379))
    #expect(configuration.database == 0)
    #expect(try RedisConfiguration(url: "redis://localhost/").database == 0)
  }

  @Test func userAndPercentEncodedPassword() throws {
    let configuration = try RedisConfiguration(
      url: "redis://app%40aura:p%40ss%3Aw%2Fo%25rd+x@127.0.0.1:6379/2")
    #expect(configuration.username == "app@aura")
    #expect(configuration.password == SecretBytes(utf8: "p@ss:w/o%rd+x"))
    #expect(configuration.database == 2)
    #expect(configuration.effectiveUser == "app@aura")
  }

  @Test func passwordOnlyMeansTheDefaultUser() throws {
    let withColon = try RedisConfiguration(url: "redis://:s3cret@127.0.0.1:6379")
    #expect(withColon.username == nil)
    #expect(withColon.password == SecretBytes(utf8: "s3cret"))
    #expect(withColon.effectiveUser == "default")
    // redis-cli -u reads a userinfo without a colon as the password.
    let bare = try RedisConfiguration(url: "redis://s3cret@127.0.0.1")
    #expect(bare.username == nil)
    #expect(bare.password == SecretBytes(utf8: "s3cret"))
  }

  @Test func passwordWithAtSignUsesTheLastAt() throws {
    let configuration = try RedisConfiguration(url: "redis://default:a@b@host:1/0")
    #expect(configuration.password == SecretBytes(utf8: "a@b"))
    #expect(configuration.endpoint == .tcp(host: "host", port: 1))
  }

  @Test func ipv6Host() throws {
    let configuration = try RedisConfiguration(url: "redis://[::1]:7000/1")
    #expect(configuration.endpoint == .tcp(host: "::1", port: 7000))
    #expect(configuration.endpoint.description == "[::1]:7000")
  }

  @Test func databaseInTheQuery() throws {
    #expect(try RedisConfiguration(url: "redis://h:1?db=5").database == 5)
  }

  @Test func unixSocket() throws {
    let configuration = try RedisConfiguration(url: "unix:///run/redis/redis.sock?db=4")
    #expect(configuration.endpoint == .unix(path: "/run/redis/redis.sock"))
    #expect(configuration.database == 4)
    let authenticated = try RedisConfiguration(url: "unix://app:pw@/tmp/r.sock")
    #expect(authenticated.username == "app")
    #expect(authenticated.password == SecretBytes(utf8: "pw"))
  }

  @Test func redissIsRefusedWithOneSentenceAboutTLS() {
    #expect(throws: RedisError.tlsUnsupported) {
      try RedisConfiguration(url: "rediss://default:pw@cache:6380/0")
    }
    let sentence = RedisError.tlsUnsupported.description
    #expect(sentence.contains("TLS") && sentence.contains("0.14"))
  }

  @Test(arguments: [
    "http://host:6379", "redis:/host", "redis://:pw@:6379", "redis://host:0",
    "redis://host:99999", "redis://host:port", "redis://host/-1", "redis://host/abc",
    "redis://host?password=x", "redis://us%zzer:pw@host", "redis://user:p%4@host",
    "unix://", "unix://host/path",
  ])
  func malformedURLsAreRefused(url: String) {
    #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
  }

  @Test func errorsNeverQuoteThePassword() {
    for url in ["redis://user:hunter2%zz@host", "redis://user:hunter2@host:notaport"] {
      do throws(RedisError) {
        _ = try RedisConfiguration(url: url)
        Issue.record("\(url.count)-character URL was accepted")
      } catch {
        #expect(!error.description.contains("hunter2"))
      }
    }
  }

  @Test func descriptionRedactsThePassword() throws {
    let configuration = try RedisConfiguration(url: "redis://app:hunter2@10.0.0.5:6379/1")
    #expect(configuration.description == "redis://app:***@10.0.0.5:6379/1")
    #expect(!"\(configuration)".contains("hunter2"))
    #expect(
      try RedisConfiguration(url: "redis://:hunter2@h").description == "redis://***@h:6379/0")
  }

  @Test func probeKeyMatchesThePatternButNoRealKey() {
    let key = RedisConnection.probeKey(for: "sess:*")
    #expect(key?.hasPrefix("sess:lockstep-probe-") == true)
    #expect(
      RedisConnection.probeKey(for: "app:[ab]?:*:x")?.hasPrefix("app:ax:lockstep-probe-") == true)
    #expect(RedisConnection.probeKey(for: "sess:exact") == nil)
    #expect(RedisConnection.probeKey(for: "sess:*") != RedisConnection.probeKey(for: "sess:*"))
  }

  @Test func echoedArgumentsAreTrimmedFromServerErrors() {
    let trimmed = RedisConnection.trimmed(
      "ERR unknown command 'FOO', with args beginning with: 'hunter2' ")
    #expect(trimmed == "ERR unknown command 'FOO'")
  }
}
