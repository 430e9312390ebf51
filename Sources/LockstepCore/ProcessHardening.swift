internal import CSystem
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Keeps secrets out of core dumps and away from other processes of the same user.
public enum ProcessHardening {
  public struct Failure: Error, CustomStringConvertible {
    public let description: String
  }

  /// Sets `RLIMIT_CORE` to 0 and, on Linux, clears the dumpable flag (which also stops
  /// same-user `ptrace` and `/proc/PID/mem` reads). Call before any secret is read.
  public static func disableCoreDumps() throws(Failure) {
    var limit = rlimit(rlim_cur: 0, rlim_max: 0)
    #if canImport(Glibc)
      let resource = __rlimit_resource_t(RLIMIT_CORE.rawValue)
    #else
      let resource = RLIMIT_CORE
    #endif
    guard setrlimit(resource, &limit) == 0 else {
      throw Failure(description: "could not disable core dumps (setrlimit: errno \(errno))")
    }
    #if os(Linux)
      guard lockstep_set_dumpable(0) == 0 else {
        throw Failure(description: "could not mark the process non-dumpable (errno \(errno))")
      }
    #endif
  }

  /// The exit status of a crash (`EX_SOFTWARE`, docs/cli.md).
  public static let crashStatus: Int32 = 70

  /// Makes a crash print one fixed sentence and exit 70 instead of the Swift runtime's
  /// report, which lists registers and the memory near them (a secret may be there). Set
  /// `SWIFT_BACKTRACE` explicitly to get the runtime's report on a machine of your own.
  public static func quietCrashReports(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws(Failure) {
    guard environment["SWIFT_BACKTRACE"] == nil else { return }
    guard lockstep_install_crash_handlers(crashStatus) == 0 else {
      throw Failure(description: "could not install the crash handlers (errno \(errno))")
    }
  }

  /// Whether core dumps are off, for `doctor` and tests.
  public static var coreDumpsDisabled: Bool {
    var limit = rlimit()
    #if canImport(Glibc)
      let resource = __rlimit_resource_t(RLIMIT_CORE.rawValue)
    #else
      let resource = RLIMIT_CORE
    #endif
    guard getrlimit(resource, &limit) == 0 else { return false }
    #if os(Linux)
      return limit.rlim_cur == 0 && lockstep_get_dumpable() == 0
    #else
      return limit.rlim_cur == 0
    #endif
  }
}
