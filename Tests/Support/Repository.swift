import Foundation

/// Paths inside this repository, for tests that run scripts or the built binary.
public enum Repository {
  /// The checkout's root, found from this file's location (Tests/Support/Repository.swift).
  public static let root: String = {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
  }()

  /// The `lockstep` executable that `swift build` put beside the test bundle.
  public static var lockstepBinary: String {
    let candidates = [
      Bundle.main.bundleURL.appendingPathComponent("lockstep").path,
      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("lockstep").path,
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
      ?? root + "/.build/debug/lockstep"
  }
}

/// Temporary directories for servers and files under test.
public enum TemporaryDirectory {
  public static func make(prefix: String) throws -> String {
    var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
      throw CocoaError(.fileWriteUnknown)
    }
    return String(cString: made)
  }
}
