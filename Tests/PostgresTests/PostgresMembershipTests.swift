import Foundation
import LockstepCore
import Postgres
import TestSupport
import Testing

/// The role profile that `strategy: alternating` compares, and the grants that make a pair
/// equal, against a real server.
@Suite struct PostgresMembershipTests {
  @Test func aProfileSeesMembershipsSettingsOwnershipAndDirectGrants() async throws {
    let fixture = try await PostgresFixture.shared()
    let admin = fixture.admin
    let group = PostgresFixture.randomName("group")
    let quotedGroup = try admin.quotedIdentifier(group)
    let quotedRole = try admin.quotedIdentifier(fixture.role)
    try admin.query("CREATE ROLE \(quotedGroup) NOLOGIN")
    try admin.query("GRANT \(quotedGroup) TO \(quotedRole) WITH ADMIN OPTION")
    try admin.query("ALTER ROLE \(quotedRole) SET statement_timeout = '5s'")
    try admin.query("GRANT CONNECT ON DATABASE postgres TO \(quotedRole)")

    let profile = try #require(try admin.roleProfile(fixture.role))
    #expect(profile.canLogin)
    #expect(profile.memberships == [.init(group: group, options: "admin_option=true")])
    #expect(profile.settings == ["*|statement_timeout=5s"])
    #expect(profile.ownedObjects == 1, "the fixture's database")
    #expect(profile.directGrants.count == 1, "CONNECT on the postgres database")
    #expect(try admin.roleProfile(PostgresFixture.randomName("absent")) == nil)
  }

  @Test func grantCopiesMembershipsWithTheirAdminOption() async throws {
    let fixture = try await PostgresFixture.shared()
    let admin = fixture.admin
    let model = PostgresFixture.randomName("model")
    let target = PostgresFixture.randomName("target")
    let groups = [PostgresFixture.randomName("g1"), PostgresFixture.randomName("g2")]
    for role in [model, target] + groups {
      try admin.query("CREATE ROLE \(try admin.quotedIdentifier(role))")
    }
    try admin.query("GRANT \(groups[0]) TO \(model) WITH ADMIN OPTION")
    try admin.query("GRANT \(groups[1]) TO \(model)")
    let memberships = try #require(try admin.roleProfile(model)).memberships
    try admin.grant(Array(memberships), to: target)
    #expect(try admin.roleProfile(target)?.memberships == memberships)
    // Granting again is harmless (a resumed apply does it).
    try admin.grant(Array(memberships), to: target)
    #expect(try admin.roleProfile(target)?.memberships == memberships)
  }
}
