import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// File globs for `code:GLOB`: `*`, `?` and `[…]` within a path segment (fnmatch), `**`
/// for any number of directories, and `{a,b}` alternatives. `.git`, `node_modules` and
/// `.build` are not descended into by `**`: they hold other people's code.
///
/// The walk never leaves its root (the pattern's leading literal directories, resolved) and
/// enters a directory at most once per remaining pattern (by device and inode), so a
/// symlink to `..`, to itself or to `/` ends neither in a loop nor in the whole disk.
public enum Glob {
  static let skippedDirectories: Set<String> = [".git", "node_modules", ".build"]

  /// Regular files matching `pattern`, sorted, relative paths kept relative.
  public static func files(matching pattern: String) -> [String] {
    var found = Set<String>()
    for expanded in expandBraces(pattern) {
      let absolute = expanded.hasPrefix("/")
      let segments = expanded.split(separator: "/").map(String.init)
      let literal = segments.prefix { !$0.contains { "*?[".contains($0) } }.dropLast(
        segments.allSatisfy { !$0.contains { "*?[".contains($0) } } ? 1 : 0)
      let rootPath = (absolute ? "/" : "") + literal.joined(separator: "/")
      guard let root = realPath(rootPath.isEmpty ? "." : rootPath) else { continue }
      var walker = Walker(root: root)
      walker.walk(rootPath, segments.dropFirst(literal.count), into: &found)
    }
    return found.sorted()
  }

  static func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// Whether `name` matches a shell pattern (for `--ignore`).
  public static func matches(_ pattern: String, _ name: String) -> Bool {
    expandBraces(pattern).contains { fnmatch($0, name, 0) == 0 }
  }

  static func expandBraces(_ pattern: String) -> [String] {
    guard let open = pattern.firstIndex(of: "{"),
      let close = pattern[open...].firstIndex(of: "}")
    else { return [pattern] }
    let head = pattern[..<open]
    let tail = String(pattern[pattern.index(after: close)...])
    return pattern[pattern.index(after: open)..<close].split(
      separator: ",", omittingEmptySubsequences: false
    ).flatMap { expandBraces(head + $0 + tail) }
  }

  static func join(_ directory: String, _ name: String) -> String {
    directory.isEmpty
      ? name : (directory.hasSuffix("/") ? directory + name : directory + "/" + name)
  }

}

/// One walk: its root and the directories it entered.
struct Walker {
  struct Visit: Hashable {
    let device: UInt
    let inode: UInt
    let remaining: Int
  }

  /// The resolved root; nothing outside it is entered or returned.
  let root: String
  var visited = Set<Visit>()

  init(root: String) { self.root = root }

  func isInsideRoot(_ path: String) -> Bool {
    guard let resolved = Glob.realPath(path.isEmpty ? "." : path) else { return false }
    return root == "/" || resolved == root || resolved.hasPrefix(root + "/")
  }

  /// Whether to enter `path` with `remaining` segments left: inside the root and not
  /// entered before with the same remaining pattern.
  mutating func enter(_ path: String, remaining: Int) -> Bool {
    var status = stat()
    guard stat(path.isEmpty ? "." : path, &status) == 0, isInsideRoot(path) else { return false }
    return visited.insert(
      Visit(device: UInt(status.st_dev), inode: UInt(status.st_ino), remaining: remaining)
    ).inserted
  }

  mutating func walk(
    _ directory: String, _ segments: ArraySlice<String>, into found: inout Set<String>
  ) {
    guard let segment = segments.first else { return }
    guard enter(directory, remaining: segments.count) else { return }
    let rest = segments.dropFirst()
    let listing = directory.isEmpty ? "." : directory
    if segment == "**" {
      walk(directory, rest, into: &found)
      for entry in Glob.entries(listing) where entry.isDirectory {
        if Glob.skippedDirectories.contains(entry.name) { continue }
        walk(Glob.join(directory, entry.name), segments, into: &found)
      }
      return
    }
    let hasWildcard = segment.contains { "*?[".contains($0) }
    if !hasWildcard {
      let path = Glob.join(directory, segment)
      if rest.isEmpty {
        if Glob.isRegularFile(path) && isInsideRoot(path) { found.insert(path) }
      } else {
        walk(path, rest, into: &found)
      }
      return
    }
    for entry in Glob.entries(listing) where fnmatch(segment, entry.name, FNM_PERIOD) == 0 {
      let path = Glob.join(directory, entry.name)
      if rest.isEmpty {
        if !entry.isDirectory && Glob.isRegularFile(path) && isInsideRoot(path) {
          found.insert(path)
        }
      } else if entry.isDirectory {
        walk(path, rest, into: &found)
      }
    }
  }

}

extension Glob {
  struct Entry {
    let name: String
    let isDirectory: Bool
  }

  static func entries(_ directory: String) -> [Entry] {
    guard let handle = opendir(directory) else { return [] }
    defer { closedir(handle) }
    var result: [Entry] = []
    while let entry = readdir(handle) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
      }
      if name == "." || name == ".." { continue }
      var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
      if entry.pointee.d_type == UInt8(DT_UNKNOWN) || entry.pointee.d_type == UInt8(DT_LNK) {
        var status = stat()
        isDirectory =
          stat(join(directory, name), &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
      }
      result.append(Entry(name: name, isDirectory: isDirectory))
    }
    return result
  }

  static func isRegularFile(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
  }
}
