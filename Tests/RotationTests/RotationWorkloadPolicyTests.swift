import Kubernetes
import Rotation
import Testing

/// `targets.kubernetes` names a workload kind: `workload: KIND/NAME` or `kind:` beside
/// `deployment:`; Deployment stays the default, and each kind's name rule applies.
@Suite struct RotationWorkloadPolicyTests {
  func policy(_ target: String) -> String {
    """
    version: 1
    name: t
    vault:
      secret: secret/app/prod
    rotate:
      - key: TOKEN
        generate: { bytes: 16 }
    targets:
      kubernetes:
        - \(target)
          mode: env
          keys: [TOKEN]

    """
  }

  func parsed(_ target: String) throws -> RotationPolicy.KubernetesTarget {
    try #require(try RotationPolicy.parse(policy(target), file: "p.yaml").kubernetes.first)
  }

  @Test func theKindComesFromWorkloadOrKindAndDefaultsToDeployment() throws {
    #expect(try parsed("deployment: api").kind == .deployment)
    let sts = try parsed("workload: statefulset/db")
    #expect(sts.kind == .statefulset && sts.deployment == "db")
    #expect(sts.label == "statefulset default/db")
    #expect(sts.marker == "deploy:default/statefulset.db")
    #expect(try parsed("deployment: api").marker == "deploy:default/api")
    let ds = try parsed("deployment: agent\n      kind: DaemonSet")
    #expect(ds.kind == .daemonset && ds.deployment == "agent")
  }

  @Test(arguments: [
    ("workload: cronjob/x", "expected KIND/NAME"),
    ("workload: statefulset", "expected KIND/NAME"),
    ("kind: job\n      deployment: x", "expected deployment, statefulset or daemonset"),
    ("workload: statefulset/a.b", "not a valid Kubernetes statefulset name"),
    ("workload: daemonset/--as=admin", "not a valid Kubernetes daemonset name"),
    ("deployment: a\n      workload: deployment/a", "not both"),
    ("kind: daemonset\n      workload: statefulset/a", "but kind: says daemonset"),
  ])
  func badWorkloadsAreRefusedWithTheirPlace(_ target: String, _ words: String) {
    #expect {
      try RotationPolicy.parse(policy(target), file: "p.yaml")
    } throws: { error in
      "\(error)".contains(words) && "\(error)".hasPrefix("p.yaml:")
    }
  }
}
