import Foundation
import LockstepCore
import TestSupport

/// A small application repository with known drift, built from literals in a temp dir.
///
/// Every value is unique to this fixture (`drift-secret-…`), so a test can search every
/// output for it. The known drift against `env_keys.txt`:
/// - `.env`: missing MINIO_SECRET_KEY, REDIS_URL; extra LEGACY_TOKEN, redis_url (case of
///   REDIS_URL); EMPTY_OK empty (a warning, not drift).
/// - code: missing MINIO_SECRET_KEY, EMPTY_OK; extra STRIPE_KEY (src/billing.py:3),
///   FEATURE_FLAG (cmd/main.go:5).
struct DriftFixture {
  let root: String
  let secrets: [String]

  static let expectedKeys = [
    "DATABASE_URL", "SESSION_SECRET", "IRON_SESSION_PASSWORD", "REDIS_URL", "MINIO_ACCESS_KEY",
    "MINIO_SECRET_KEY", "EMPTY_OK",
  ]

  static func make() throws -> DriftFixture {
    let root = try TemporaryDirectory.make(prefix: "drift-fixture")
    let secrets = (0..<6).map { "drift-secret-\($0)-\(UUID().uuidString)" }
    func write(_ path: String, _ text: String) throws {
      let full = root + "/" + path
      try FileManager.default.createDirectory(
        atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try text.write(toFile: full, atomically: true, encoding: .utf8)
    }
    try write(
      "env_keys.txt",
      """
      # Aura-Sign production keys (the runbook's env_keys.txt)
      DATABASE_URL
      SESSION_SECRET
      IRON_SESSION_PASSWORD
      REDIS_URL
      MINIO_ACCESS_KEY
      MINIO_SECRET_KEY
      EMPTY_OK

      """)
    try write(
      ".env",
      """
      # production
      DATABASE_URL="postgres://aura:\(secrets[0])@db/aura_sign"
      export SESSION_SECRET='\(secrets[1])'
      IRON_SESSION_PASSWORD=\(secrets[2])  # inline comment
      MINIO_ACCESS_KEY="\(secrets[3])
      second line"
      LEGACY_TOKEN=\(secrets[4])
      redis_url=redis://:\(secrets[5])@redis:6379/0
      EMPTY_OK=

      """)
    try write(
      "src/server.js",
      """
      const db = process.env.DATABASE_URL;
      const session = process.env["SESSION_SECRET"];
      const iron = process.env.IRON_SESSION_PASSWORD;

      """)
    try write(
      "src/billing.py",
      """
      import os
      redis = os.environ["REDIS_URL"]
      stripe = os.getenv("STRIPE_KEY")
      minio = os.environ.get('MINIO_ACCESS_KEY')

      """)
    try write(
      "cmd/main.go",
      """
      package main

      import "os"

      var flag = os.Getenv("FEATURE_FLAG")

      """)
    try write("node_modules/lib/index.js", "process.env.IGNORED_DEPENDENCY_KEY\n")
    try write(
      "policies/drift/aura-sign.yaml",
      """
      version: 1
      ignore: ["NODE_*"]
      environments:
        production:
          expect: keys:env_keys.txt
          against:
            - dotenv:.env
            - code:{src,cmd}/**/*.{js,py,go}
        clean:
          expect: keys:env_keys.txt
          against: [keys:env_keys.txt]

      """)
    return DriftFixture(root: root, secrets: secrets)
  }

  /// Runs the built `lockstep` in the fixture's directory.
  func run(_ arguments: [String], environment: [String: String]? = nil) throws
    -> ChildProcess.Result
  {
    try ChildProcess.run(
      Repository.lockstepBinary, arguments, environment: environment, timeout: .seconds(60),
      directory: root)
  }

  /// True when no fixture value appears anywhere in `text`.
  func leaksNothing(_ text: String) -> Bool {
    !secrets.contains { text.contains($0) } && !text.contains("drift-secret-")
  }
}
