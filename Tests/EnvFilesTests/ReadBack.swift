import EnvFiles
import Foundation
import LockstepCore
import TestSupport

/// Reads a rendered file back with the real parsers: python-dotenv 1.2 and POSIX sh.
/// Values come back hex-encoded on the child's stdout and are compared in the test process,
/// so no value is ever printed by a failing test (only key names are).
enum ReadBack {
  static func python(_ path: String) throws -> [String: [UInt8]] {
    let script = """
      import json, sys
      from dotenv import dotenv_values
      d = dotenv_values(sys.argv[1])
      print(json.dumps({k: (v.encode('utf-8').hex() if v is not None else None) for k, v in d.items()}))
      """
    return try hexMap(ChildProcess.run("python3", ["-c", script, path]))
  }

  /// `set -a; . FILE` in dash (the system's /bin/sh, or `shell`), then python prints the
  /// environment.
  static func sh(_ path: String, names: [String], shell: String = "sh") throws -> [String: [UInt8]]
  {
    let dump = """
      import json, os, sys
      print(json.dumps({k: os.environb[k.encode()].hex() for k in sys.argv[1:] if k.encode() in os.environb}))
      """
    let script = "set -a; . \"$1\"; shift; exec python3 -c '\(dump)' \"$@\""
    return try hexMap(ChildProcess.run(shell, ["-c", script, shell, path] + names))
  }

  static func hexMap(_ result: ChildProcess.Result) throws -> [String: [UInt8]] {
    guard result.succeeded else { throw UserError("reader failed: \(result.stderrText)") }
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any]
    var map: [String: [UInt8]] = [:]
    for (key, value) in object ?? [:] {
      guard let hex = value as? String else { continue }
      var bytes: [UInt8] = []
      var index = hex.startIndex
      while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
      }
      map[key] = bytes
    }
    return map
  }
}

/// Values that break naive quoting; each fixture is unique so output can be searched for it.
enum Nasty {
  static let pem = """
    -----BEGIN PRIVATE KEY-----
    MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj
    MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu
    -----END PRIVATE KEY-----

    """

  /// Both python-dotenv and sh can hold these.
  static let portable: [(String, String)] = [
    ("DOLLAR", "pa$$word$HOME$1"),
    ("BACKTICK", "run `id` now"),
    ("HASH", "value # not a comment"),
    ("HASH_TIGHT", "abc#def"),
    ("DOUBLE_QUOTES", "say \"hi\""),
    ("SINGLE_QUOTES", "it's Bob's"),
    ("BOTH_QUOTES", "it's \"quoted\""),
    ("BACKSLASHES", "C:\\path\\to\\x \\n \\t \\\\ end"),
    ("SPACES", "  leading and trailing  "),
    ("EQUALS", "a=b==c"),
    ("UNICODE", "pässwörd ✓ 鍵 🔑"),
    ("EMPTY", ""),
    ("PEM", pem),
    ("URL", "postgres://aura:p%40ss@db:5432/aura_sign?sslmode=require&x=1"),
    ("TAB", "a\tb"),
    ("SEMICOLON", "a; rm -rf /tmp/nothing; echo"),
    ("DOLLAR_BRACE_OPEN", "${unterminated"),
    ("BACKSLASH_DOLLAR", "a\\$b"),
    ("DOUBLE_BACKSLASH_SINGLE_QUOTE", "a\\\\b'c"),
    ("NEWLINE_END", "line\n"),
    ("QUOTE_AND_LONE_DOLLARS", "it's 5 $ a month, $/h, \"$\", $'x' and $é"),
    ("BACKSLASHES_AND_QUOTE", "C:\\it's\\here \\\\ $"),
  ]
}
