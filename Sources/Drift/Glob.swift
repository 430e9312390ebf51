import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// File globs for `code:GLOB`: `*`, `?` and `[…]` within a path segment (fnmatch), `**`
/// for any number of directories, and `{a,b}` alternatives. `.git`, `node_modules` and
/// `.build` are not descended into by `**`: they hold other people's code.
public enum Glob {
  static let skippedDirectories: Set<String> = [".git", "node_modules", ".build"]

  /// Regular files matching `pattern`, sorted, relative paths kept relative.
  public static func files(matching pattern: String) -> [String] {
    var found = Set<String>()
    for expanded in expandBraces(pattern) {
      let absolute = expanded.hasPrefix("/")
      let segments = expanded.split(separator: "/").map(String.init)
      walk(absolute ? "/" : "", segments[...], into: &found)
    }
    return found.sorted()
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

  static func walk(
    _ directory: String, _ segments: ArraySlice<String>, into found: inout Set<String>
  ) {
    guard let segment = segments.first else { return }
    let rest = segments.dropFirst()
    let listing = directory.isEmpty ? "." : directory
    if segment == "**" {
      walk(directory, rest, into: &found)
      for entry in entries(listing) where entry.isDirectory {
        if skippedDirectories.contains(entry.name) { continue }
        walk(join(directory, entry.name), segments, into: &found)
      }
      return
    }
    let hasWildcard = segment.contains { "*?[".contains($0) }
    if !hasWildcard {
      let path = join(directory, segment)
      if rest.isEmpty {
        if isRegularFile(path) { found.insert(path) }
      } else {
        walk(path, rest, into: &found)
      }
      return
    }
    for entry in entries(listing) where fnmatch(segment, entry.name, FNM_PERIOD) == 0 {
      let path = join(directory, entry.name)
      if rest.isEmpty {
        if !entry.isDirectory && isRegularFile(path) { found.insert(path) }
      } else if entry.isDirectory {
        walk(path, rest, into: &found)
      }
    }
  }

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
