import LockstepCore

/// The ACL capability check behind `lockstep doctor` and the rotation preflight.
extension RedisConnection {
  /// Checks that this connection's user may `SCAN` and `UNLINK` keys matching `pattern`
  /// (and `FLUSHDB` when `includingFlush`), without deleting anything.
  ///
  /// `ACL DRYRUN` (Redis 7.0+) answers exactly, but only for users allowed to run it
  /// (usually admins). Otherwise the check runs the commands for real where that is
  /// harmless: `SCAN 0 MATCH pattern COUNT 1`, and `UNLINK` of a key that matches the
  /// pattern but cannot exist (the pattern's first `*` replaced by a random token); a
  /// pattern without `*` leaves `UNLINK` unknown, and so does `FLUSHDB`, which has no
  /// harmless form.
  public func checkInvalidationAccess(
    pattern: String, includingFlush: Bool = false
  ) throws(RedisError) -> RedisAccess {
    let who = (try? command("ACL", "WHOAMI"))?.text ?? user
    let probeKey = Self.probeKey(for: pattern)
    var scan = try dryRun(who, ["SCAN", "0", "MATCH", RedisArgument(pattern), "COUNT", "1"])
    var unlink = try dryRun(who, ["UNLINK", RedisArgument(probeKey ?? pattern)])
    let flush = includingFlush ? try dryRun(who, ["FLUSHDB"]) : nil
    if scan == .unknown {
      scan = try verdict { () throws(RedisError) in
        try command("SCAN", "0", "MATCH", RedisArgument(pattern), "COUNT", "1")
      }
    }
    if unlink == .unknown, let probeKey {
      unlink = try verdict { () throws(RedisError) in try command("UNLINK", RedisArgument(probeKey))
      }
    }
    return RedisAccess(user: who, pattern: pattern, scan: scan, unlink: unlink, flush: flush)
  }

  /// `.unknown` when this user may not use `ACL DRYRUN` (or the server predates it).
  private func dryRun(_ who: String, _ arguments: [RedisArgument]) throws(RedisError)
    -> RedisAccess.Verdict
  {
    do throws(RedisError) {
      let reply = try command(["ACL", "DRYRUN", RedisArgument(who)] + arguments)
      return reply == .status("OK") ? .allowed : .denied
    } catch .permissionDenied, .server {
      return .unknown
    }
  }

  private func verdict(_ probe: () throws(RedisError) -> RedisReply) throws(RedisError)
    -> RedisAccess.Verdict
  {
    do throws(RedisError) {
      _ = try probe()
      return .allowed
    } catch .permissionDenied {
      return .denied
    }
  }

  /// A key that matches `pattern` yet exists with negligible probability; nil when the
  /// pattern has no `*` to hold the random token (its one match could be a real key).
  static func probeKey(for pattern: String) -> String? {
    guard pattern.contains("*") else { return nil }
    let token =
      "lockstep-probe-"
      + SecretBytes.random(count: 12).withUnsafeBytes { raw in
        raw.map { String($0, radix: 16) }.joined()
      }
    var key = ""
    var iterator = pattern.makeIterator()
    var replaced = false
    while let character = iterator.next() {
      switch character {
      case "\\":
        if let escaped = iterator.next() { key.append(escaped) }
      case "*":
        if !replaced { key += token }
        replaced = true
      case "?":
        key.append("x")
      case "[":
        // A class: take its first member (after an optional ^, take a byte unlikely to be
        // excluded), then skip to the closing bracket.
        var first: Character? = nil
        var negated = false
        while let member = iterator.next(), member != "]" {
          if first == nil && member == "^" && !negated {
            negated = true
            continue
          }
          if first == nil { first = member }
        }
        key.append(negated ? "\u{7}" : (first ?? "x"))
      default:
        key.append(character)
      }
    }
    return key
  }
}
