import Testing

@testable import Diagnostics

/// What the deadline reports for work it cut short, whatever point the work had reached.
@Suite struct CheckLogTests {
  func cut(_ log: CheckLog) -> [CheckResult] {
    log.snapshot(interrupted: { running in
      .failed(log.system, running, "no answer within 1 s", problem: "\(log.system) did not answer.")
    })
  }

  @Test func workThatNeverStartedIsAFailureNotASilence() {
    let results = cut(CheckLog(system: "Vault"))
    #expect(results.map(\.name) == ["Vault checks"])
    #expect(results.map(\.status) == [.failed])
  }

  @Test func aCheckInFlightIsNamed() {
    let log = CheckLog(system: "Vault")
    log.pass("Vault reachable", "ok")
    log.begin("Vault token")
    #expect(cut(log).map(\.name) == ["Vault reachable", "Vault token"])
    #expect(cut(log).last?.status == .failed)
  }

  @Test func theGapBetweenTwoChecksStillFails() {
    let log = CheckLog(system: "Redis")
    log.pass("Redis PING", "ok")
    #expect(cut(log).map(\.name) == ["Redis PING", "remaining Redis checks"])
  }

  @Test func aSystemThatAlreadyFailedSaysSoOnce() {
    let log = CheckLog(system: "PostgreSQL")
    log.fail("PostgreSQL login", "refused", problem: "PostgreSQL refused the login.")
    #expect(cut(log).map(\.name) == ["PostgreSQL login"])
  }

  @Test func finishedWorkIsReportedAsItIs() {
    let log = CheckLog(system: "Redis")
    log.pass("Redis PING", "ok")
    #expect(log.snapshot().map(\.status) == [.passed])
  }
}
