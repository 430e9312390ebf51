import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Free TCP ports on 127.0.0.1, found by binding port 0 and asking the kernel which port it
/// gave. Ports handed out in this process are remembered so that two tests never get the
/// same one.
public enum FreePort {
  private static let handedOut = Mutex<Set<Int>>([])

  /// A free port; with `pairWithNext`, one whose successor is free too (OpenBao's dev
  /// server takes port+1 for its cluster listener).
  public static func next(pairWithNext: Bool = false) -> Int {
    while true {
      let port = probe(0)
      guard port > 0, port < 65535 else { continue }
      if pairWithNext && probe(port + 1) != port + 1 { continue }
      let fresh = handedOut.withLock { ports in
        if ports.contains(port) || ports.contains(port + 1) { return false }
        ports.insert(port)
        if pairWithNext { ports.insert(port + 1) }
        return true
      }
      if fresh { return port }
    }
  }

  private static func probe(_ port: Int) -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0 else { return -1 }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}
