import Foundation

/// Counts the lines of a log that contain a pattern (the runbook's `grep unauthorized`), for
/// the evidence. A fixed string, not a regular expression: the count is a fact to record,
/// and a fixed string cannot be mistyped into matching everything.
enum LogScanner {
  static func count(pattern: String, path: String) -> Any {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "not readable" }
    defer { try? handle.close() }
    let needle = Array(pattern.utf8)
    var count = 0
    var carry: [UInt8] = []
    while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
      var buffer = carry
      buffer.append(contentsOf: chunk)
      let lines = buffer.split(separator: 0x0A, omittingEmptySubsequences: false)
      carry = Array(lines.last ?? [])
      for line in lines.dropLast() where contains(line, needle) { count += 1 }
    }
    if contains(carry[...], needle) { count += 1 }
    return count
  }

  private static func contains(_ line: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, line.count >= needle.count else { return false }
    var index = line.startIndex
    while index + needle.count <= line.endIndex {
      if line[index] == needle[0] && line[index..<index + needle.count].elementsEqual(needle) {
        return true
      }
      index += 1
    }
    return false
  }
}
