import EnvFiles
import Foundation
import LockstepCore
import TestSupport
import Testing

/// Property: the portable dialect writes exactly the values that some quoting reads back
/// unchanged in both python-dotenv 1.2 and POSIX sh. Values are drawn from an alphabet of
/// every character either parser treats specially (`\ $ ' " `` ` # { }`, space, tab,
/// newline) plus letters, a digit and non-ASCII. For each value:
///
/// - written: the real python-dotenv, dash (`sh`) and bash read the file back exactly;
/// - refused: the test proves that no quoting works, by trying every one with the real
///   parsers: bare, single quotes, and double quotes with each character either literal or
///   backslash-escaped (2^n spellings). python-dotenv has no concatenation (`'a'"b"`), so
///   these are all the forms both parsers share. Each candidate is read alone in a file
///   whose next line holds both quote characters, as a real `.env` file may: a quoting that
///   only works when nothing follows it is not a quoting.
@Suite struct PortableDialectPropertyTests {
  static let alphabet: [String] = [
    "\\", "$", "'", "\"", "`", "#", " ", "\t", "\n", "{", "}", "a", "Z", "1", "é", "鍵",
  ]
  /// Read after each candidate: both quote characters, single-quoted.
  static let guardLine = "LOCKSTEP_GUARD='\"'\n"

  @Test func portableWritesExactlyWhatSomeQuotingHolds() throws {
    var generator = SplitMix(seed: 20_261_203)
    var values: [String] = []
    var seen: Set<String> = []
    while values.count < 240 {
      let count = 1 + Int(generator.next() % 5)
      let value = (0..<count).map { _ in
        Self.alphabet[Int(generator.next() % UInt64(Self.alphabet.count))]
      }.joined()
      if seen.insert(value).inserted { values.append(value) }
    }
    var written: [(String, String)] = []
    var refused: [String] = []
    for (index, value) in values.enumerated() {
      switch DotenvRenderer.line(
        name: "V\(index)", value: SecretBytes(utf8: value), dialect: .portable)
      {
      case .success: written.append(("V\(index)", value))
      case .failure: refused.append(value)
      }
    }
    #expect(written.count > 40, "too few values written to prove anything")
    #expect(refused.count > 20, "too few values refused to prove anything")

    // Written: one file, read by the real parsers.
    let directory = try TemporaryDirectory.make(prefix: "envfiles-property")
    var file: [UInt8] = []
    for (name, value) in written {
      guard
        case .success(let line) = DotenvRenderer.line(
          name: name, value: SecretBytes(utf8: value), dialect: .portable)
      else { continue }
      file += line.unsafeArray()
    }
    file += Array(Self.guardLine.utf8)
    let path = directory + "/written.env"
    try Data(file).write(to: URL(fileURLWithPath: path))
    let names = written.map(\.0)
    for (reader, read) in [
      ("python-dotenv", try ReadBack.python(path)),
      ("sh", try ReadBack.sh(path, names: names)),
      ("bash", try ReadBack.sh(path, names: names, shell: "bash")),
    ] {
      for (name, value) in written {
        #expect(read[name] == Array(value.utf8), "\(reader) read \(name) back differently")
      }
    }

    // Refused: every candidate quoting, each alone before the guard line, fails somewhere.
    var candidates: [(value: Int, text: String)] = []
    for (index, value) in refused.enumerated() {
      for text in Self.quotings(value) { candidates.append((index, text)) }
    }
    let candidateDirectory = directory + "/candidates"
    try FileManager.default.createDirectory(
      atPath: candidateDirectory, withIntermediateDirectories: false)
    for (number, candidate) in candidates.enumerated() {
      try Data(("V=" + candidate.text + "\n" + Self.guardLine).utf8).write(
        to: URL(fileURLWithPath: "\(candidateDirectory)/\(number)"))
    }
    let python = try Self.pythonReadsEach(candidateDirectory, count: candidates.count)
    let shell = try Self.shReadsEach(candidateDirectory, count: candidates.count)
    for (number, candidate) in candidates.enumerated() {
      let expected = Array(refused[candidate.value].utf8)
      let both = python[number] == expected && shell[number] == expected
      #expect(
        !both,
        "refused value #\(candidate.value) reads back in both parsers as candidate \(number)")
    }
  }

  /// Bare, single-quoted, and double-quoted with each character literal or escaped.
  static func quotings(_ value: String) -> [String] {
    let characters = value.map(String.init)
    var result = [value, "'" + value + "'"]
    for mask in 0..<(1 << characters.count) {
      var text = "\""
      for (position, character) in characters.enumerated() {
        text += (mask >> position) & 1 == 1 ? "\\" + character : character
      }
      result.append(text + "\"")
    }
    return result
  }

  /// python-dotenv's `V` for each file `0..<count` in `directory`; nil when it has none.
  static func pythonReadsEach(_ directory: String, count: Int) throws -> [[UInt8]?] {
    let script = """
      import json, logging, sys
      logging.disable(logging.CRITICAL)
      from dotenv import dotenv_values
      out = []
      for i in range(int(sys.argv[2])):
          v = dotenv_values(sys.argv[1] + "/" + str(i)).get("V")
          out.append(None if v is None else v.encode("utf-8").hex())
      print(json.dumps(out))
      """
    let result = try ChildProcess.run(
      "python3", ["-c", script, directory, String(count)], timeout: .seconds(300))
    guard result.succeeded else { throw UserError("python-dotenv failed: \(result.stderrText)") }
    return try decodeHexList(result.stdout)
  }

  /// dash's `V` for each file, each sourced in a subshell of its own (a syntax error in one
  /// candidate must not hide the others).
  static func shReadsEach(_ directory: String, count: Int) throws -> [[UInt8]?] {
    let script = """
      i=0
      while [ "$i" -lt "$2" ]; do
        ( unset V; . "$1/$i" 2>/dev/null && [ "${V+set}" = set ] && printf '%s' "$V" > "$1/$i.sh" ) 2>/dev/null
        i=$((i + 1))
      done
      """
    let result = try ChildProcess.run(
      "sh", ["-c", script, "sh", directory, String(count)], timeout: .seconds(300))
    guard result.succeeded else { throw UserError("sh failed: \(result.stderrText)") }
    return (0..<count).map { number in
      FileManager.default.contents(atPath: "\(directory)/\(number).sh").map { Array($0) }
    }
  }

  static func decodeHexList(_ output: [UInt8]) throws -> [[UInt8]?] {
    let list = try JSONSerialization.jsonObject(with: Data(output)) as? [Any] ?? []
    return list.map { item in
      guard let hex = item as? String else { return nil }
      var bytes: [UInt8] = []
      var index = hex.startIndex
      while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
      }
      return bytes
    }
  }

  /// The issue's Windows path: it reads back only while no quote follows it in the file,
  /// so the portable dialect refuses it, naming the trailing backslash.
  @Test func aTrailingBackslashSwallowsTheClosingQuoteInPythonDotenv() throws {
    let value = "C:\\path\\n\\t not escapes \\"
    let refusal = #expect(throws: RenderRefusal.self) {
      try DotenvRenderer.quote(SecretBytes(utf8: value), dialect: .portable).get()
    }
    #expect(refusal == .trailingBackslash)
    let quoted = "\"C:\\\\path\\\\n\\\\t not escapes \\\\\""
    let directory = try TemporaryDirectory.make(prefix: "envfiles-trailing")
    let alone = directory + "/alone.env"
    try Data(("A=" + quoted + "\n").utf8).write(to: URL(fileURLWithPath: alone))
    #expect(try ReadBack.python(alone)["A"] == Array(value.utf8))
    let followed = directory + "/followed.env"
    try Data(("A=" + quoted + "\nB=\"b\"\n").utf8).write(to: URL(fileURLWithPath: followed))
    #expect(try ReadBack.python(followed)["A"] != Array(value.utf8))
    // Without the trailing backslash the same path is written, and both parsers agree.
    let path = directory + "/written.env"
    let shorter = "C:\\path\\n\\t not escapes \\\\ end"
    guard
      case .success(let line) = DotenvRenderer.line(
        name: "A", value: SecretBytes(utf8: shorter), dialect: .portable)
    else {
      Issue.record("refused a value double quotes hold")
      return
    }
    try Data(line.unsafeArray() + Array("B=\"b\"\n".utf8)).write(to: URL(fileURLWithPath: path))
    #expect(try ReadBack.python(path)["A"] == Array(shorter.utf8))
    #expect(try ReadBack.sh(path, names: ["A"])["A"] == Array(shorter.utf8))
  }
}
