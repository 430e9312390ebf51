// swift-tools-version: 6.0
// Lockstep: secrets and configuration kept in lockstep across Vault, PostgreSQL,
// Kubernetes, Redis and .env files. Module map and rules: ../shared/DESIGN.md.
import PackageDescription

/// One system-library target per C library. Each is imported by exactly one Swift module.
let cLibraries: [Target] = [
  .systemLibrary(
    name: "CCurl", pkgConfig: "libcurl",
    providers: [.apt(["libcurl4-openssl-dev"])]),
  .systemLibrary(
    name: "CPQ", pkgConfig: "libpq",
    providers: [.apt(["libpq-dev"])]),
  .systemLibrary(
    name: "CHiredis", pkgConfig: "hiredis",
    providers: [.apt(["libhiredis-dev"])]),
  .systemLibrary(
    name: "CSodium", pkgConfig: "libsodium",
    providers: [.apt(["libsodium-dev"])]),
  .systemLibrary(
    name: "COpenSSL", pkgConfig: "openssl",
    providers: [.apt(["libssl-dev"])]),
]

let argumentParser: Target.Dependency = .product(
  name: "ArgumentParser", package: "swift-argument-parser")
let yams: Target.Dependency = .product(name: "Yams", package: "Yams")

let libraries: [Target] = [
  // Foundation of everything: no C library, no outside system. CSystem is our own C for
  // the few Linux calls Swift cannot import (prctl).
  .target(name: "CSystem"),
  .target(name: "LockstepCore", dependencies: ["CSystem"]),
  // One module per outside thing; each owns one C library at most.
  .target(name: "HTTP", dependencies: ["LockstepCore", "CCurl"]),
  .target(name: "Crypto", dependencies: ["LockstepCore", "COpenSSL", "CSodium"]),
  .target(name: "Postgres", dependencies: ["LockstepCore", "CPQ"]),
  .target(name: "Redis", dependencies: ["LockstepCore", "CHiredis"]),
  .target(name: "Vault", dependencies: ["LockstepCore", "HTTP"]),
  .target(name: "Kubernetes", dependencies: ["LockstepCore"]),
  .target(name: "ObjectStore", dependencies: ["LockstepCore", "HTTP", "Crypto"]),
  // Workflows.
  .target(name: "Envelope", dependencies: ["LockstepCore", "Crypto"]),
  .target(name: "EnvFiles", dependencies: ["LockstepCore", "Vault"]),
  .target(name: "Evidence", dependencies: ["LockstepCore", "Crypto"]),
  .target(name: "Drift", dependencies: ["LockstepCore", "EnvFiles", "Vault", "Kubernetes", yams]),
  .target(
    name: "Backup",
    dependencies: ["LockstepCore", "HTTP", "Envelope", "Crypto", "Vault", "ObjectStore"]),
  .target(
    name: "Rotation",
    dependencies: [
      "LockstepCore", "Crypto", "Vault", "Postgres", "Redis", "Kubernetes", "Evidence", yams,
    ]),
  // `lockstep doctor` and the rotation preflight: can each configured system be reached
  // with the rights a command needs?
  .target(
    name: "Diagnostics",
    dependencies: [
      "LockstepCore", "HTTP", "Vault", "Postgres", "Redis", "Kubernetes", "ObjectStore",
    ]),
  .executableTarget(
    name: "lockstep",
    dependencies: [
      argumentParser, "LockstepCore", "HTTP", "Vault", "Postgres", "Redis", "Kubernetes",
      "ObjectStore", "Crypto", "Envelope", "EnvFiles", "Drift", "Backup", "Rotation", "Evidence",
      "Diagnostics",
    ]),
]

/// Starts real servers (OpenBao, PostgreSQL, Redis, moto, the Kubernetes stand-in) on
/// 127.0.0.1 for tests; imports no C library module.
let testSupport: Target = .target(
  name: "TestSupport", dependencies: ["LockstepCore"], path: "Tests/Support",
  exclude: ["k8s_standin.py", "http_testserver.py", "jwt_tool.py"])

func tests(_ name: String, _ deps: [Target.Dependency]) -> Target {
  .testTarget(name: name, dependencies: deps + ["TestSupport", "LockstepCore"])
}

let testTargets: [Target] = [
  tests("LockstepCoreTests", []),
  tests("HTTPTests", ["HTTP"]),
  tests("CryptoTests", ["Crypto"]),
  tests("PostgresTests", ["Postgres"]),
  tests("RedisTests", ["Redis"]),
  tests("VaultTests", ["Vault", "HTTP"]),
  tests("KubernetesTests", ["Kubernetes"]),
  tests("ObjectStoreTests", ["ObjectStore", "HTTP", "Crypto"]),
  tests("EnvFilesTests", ["EnvFiles", "Vault"]),
  tests("DriftTests", ["Drift", "EnvFiles", "Vault", "Kubernetes"]),
  tests("BackupTests", ["Backup", "Envelope", "Vault", "Crypto", "HTTP", "ObjectStore"]),
  tests("EvidenceTests", ["Evidence", "Crypto"]),
  tests("RotationTests", ["Rotation", "Vault", "Postgres", "Redis", "Kubernetes"]),
  tests("DiagnosticsTests", ["Diagnostics", "Rotation"]),
  tests("CLITests", [yams]),
]

let package = Package(
  name: "Lockstep",
  platforms: [.macOS(.v15)],
  products: [.executable(name: "lockstep", targets: ["lockstep"])],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
  ],
  targets: cLibraries + libraries + [testSupport] + testTargets,
  swiftLanguageModes: [.v6]
)
