import Foundation
import LockstepCore
import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Runs the built `lockstep` with an explicit environment (nothing inherited but PATH), so
/// a test sees exactly what a user with that environment would.
enum CLI {
  static func run(
    _ arguments: [String], environment: [String: String] = [:],
    timeout: Duration = .seconds(60)
  ) throws -> ChildProcess.Result {
    var full = environment
    if full["PATH"] == nil {
      full["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    }
    full["NO_COLOR"] = "1"
    return try ChildProcess.run(
      Repository.lockstepBinary, arguments, environment: full, timeout: timeout)
  }

  /// The environment `source DIR/env` gives a user of the local stack, pointing at this
  /// test process's shared servers (the PostgreSQL password in a 0600 passfile).
  static func stackEnvironment() async throws -> [String: String] {
    let vault = try await SharedServices.shared.service(.vault)
    let postgres = try await SharedServices.shared.service(.postgres)
    let redis = try await SharedServices.shared.service(.redis)
    let kubernetes = try await SharedServices.shared.service(.k8s)
    let s3 = try await SharedServices.shared.service(.s3)
    return try StackEnvironment.make(
      directory: try TemporaryDirectory.make(prefix: "lockstep-cli"),
      vaultAddress: "http://127.0.0.1:\(vault.port)", postgres: postgres,
      redisURL: "redis://127.0.0.1:\(redis.port)/0",
      kubeconfig: kubernetes.directory + "/kubeconfig", s3: s3)
  }
}
