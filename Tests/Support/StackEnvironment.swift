import Foundation
import LockstepCore

#if canImport(Glibc)
  import Glibc
#endif

/// The environment `source DIR/env` gives a user of the local stack, pointing at real test
/// servers: the one builder of the CLI, doctor and rotation tests. The PostgreSQL password
/// travels in a 0600 passfile in `directory`, as in the stack's env file; a caller changes
/// what its test needs (a PATH with a kubectl wrapper, another token) on the result.
public enum StackEnvironment {
  public static func make(
    directory: String, vaultAddress: String, postgres: LocalService, redisURL: String,
    kubeconfig: String, s3: LocalService? = nil
  ) throws -> [String: String] {
    let pgpass = directory + "/pgpass"
    try "127.0.0.1:\(postgres.port):*:postgres:\(postgres.password!)\n".write(
      toFile: pgpass, atomically: true, encoding: .utf8)
    chmod(pgpass, 0o600)
    return [
      "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
      "HOME": directory,
      "VAULT_ADDR": vaultAddress, "VAULT_TOKEN": VaultTesting.rootToken,
      "PGHOST": "127.0.0.1", "PGPORT": String(postgres.port), "PGUSER": "postgres",
      "PGDATABASE": "postgres", "PGPASSFILE": pgpass,
      "REDIS_URL": redisURL,
      "KUBECONFIG": kubeconfig, "KUBECACHEDIR": directory + "/kube-cache",
      "NO_COLOR": "1",
    ].merging(s3?.s3Environment ?? [:]) { $1 }
  }
}
