import Envelope
import Foundation
import LockstepCore
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `--out` names that are not regular files: a device or FIFO is written to, never
/// replaced (a rename over `/dev/null` once turned it into a regular file on this machine);
/// a directory or a symlink to a file is refused.
@Suite struct AtomicFileTests {
  static func kind(_ path: String) -> mode_t {
    var status = stat()
    return lstat(path, &status) == 0 ? status.st_mode & S_IFMT : 0
  }

  static func write(_ text: String, to path: String) throws {
    let file = try AtomicFile(path: path)
    try Array(text.utf8).withUnsafeBytes { try file.write($0) }
    try file.commit()
  }

  @Test func aCharacterDeviceIsWrittenToAndStaysADevice() throws {
    let directory = try TemporaryDirectory.make(prefix: "atomic-device")
    let device = directory + "/null"
    // A private copy of /dev/null (needs root, as the CI runs): the real one is never used.
    // makedev(1, 3) in glibc's encoding (the macro is not visible to Swift).
    guard mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0 else {
      Issue.record("mknod failed (errno \(errno)): this test needs root")
      return
    }
    try Self.write("payload", to: device)
    #expect(Self.kind(device) == S_IFCHR)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["null"])
  }

  @Test func aFIFOGetsTheBytesAndStaysAFIFO() async throws {
    let directory = try TemporaryDirectory.make(prefix: "atomic-fifo")
    let fifo = directory + "/pipe"
    #expect(mkfifo(fifo, 0o600) == 0)
    // Opening a FIFO blocks until the other end opens: the reader gets a thread of its own.
    let reader = Task {
      try await onDedicatedThread { () throws -> [UInt8] in
        let descriptor = open(fifo, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw UserError("could not open the FIFO") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
          let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 4096) }
          if count <= 0 { break }
          bytes += chunk[0..<count]
        }
        return bytes
      }
    }
    try Self.write("through the pipe", to: fifo)
    #expect(String(decoding: try await reader.value, as: UTF8.self) == "through the pipe")
    #expect(Self.kind(fifo) == S_IFIFO)
  }

  @Test func aSymlinkToAFileAndADirectoryAreRefused() throws {
    let directory = try TemporaryDirectory.make(prefix: "atomic-refuse")
    let real = directory + "/real"
    try "keep".write(toFile: real, atomically: false, encoding: .utf8)
    let link = directory + "/link"
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
    #expect(throws: EnvelopeError.self) { try Self.write("x", to: link) }
    #expect(Self.kind(link) == S_IFLNK)
    #expect(try String(contentsOfFile: real, encoding: .utf8) == "keep")
    #expect(throws: EnvelopeError.self) { try Self.write("x", to: directory) }
    let dangling = directory + "/dangling"
    try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "/nowhere")
    #expect(throws: EnvelopeError.self) { try Self.write("x", to: dangling) }
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        == ["dangling", "link", "real"], "no temporary file left")
  }

  @Test func aRegularFileIsReplacedAtomically() throws {
    let directory = try TemporaryDirectory.make(prefix: "atomic-regular")
    let path = directory + "/out"
    try "old".write(toFile: path, atomically: false, encoding: .utf8)
    try Self.write("new", to: path)
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
    #expect(Self.kind(path) == S_IFREG)
  }
}
