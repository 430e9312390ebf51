import LockstepCore
import Yams

/// A malformed policy: the sentence names the file, line and field.
public struct PolicyError: LockstepError, Equatable {
  public let description: String
  public var exitStatus: ExitStatus { .dataError }

  public init(_ file: String, _ line: Int?, _ message: String) {
    description = line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
  }
}

/// Walks a YAML node tree with the file and line at hand, so that every error about a
/// policy says where it is; Codable decoding would lose the line numbers.
public struct PolicyNode {
  let node: Node
  let path: String
  let file: String

  public var line: Int? { node.mark?.line }

  public func fail(_ message: String) -> PolicyError {
    PolicyError(file, line, path.isEmpty ? message : "\(path): \(message)")
  }

  public func mapping() throws(PolicyError) -> [(key: String, value: PolicyNode)] {
    guard case .mapping(let mapping) = node else { throw fail("expected a mapping") }
    return mapping.map { key, value in
      let name = key.string ?? ""
      return (
        name, PolicyNode(node: value, path: path.isEmpty ? name : "\(path).\(name)", file: file)
      )
    }
  }

  public func sequence() throws(PolicyError) -> [PolicyNode] {
    guard case .sequence(let sequence) = node else { throw fail("expected a list") }
    return sequence.enumerated().map { index, value in
      PolicyNode(node: value, path: "\(path)[\(index)]", file: file)
    }
  }

  public func string() throws(PolicyError) -> String {
    guard case .scalar(let scalar) = node else { throw fail("expected a string") }
    return scalar.string
  }

  public func int() throws(PolicyError) -> Int {
    guard let value = node.int else { throw fail("expected a whole number") }
    return value
  }

  public func bool() throws(PolicyError) -> Bool {
    guard let value = node.bool else { throw fail("expected true or false") }
    return value
  }

  /// A duration such as `90s`, `5m`, `1h` or a bare number of seconds.
  public func duration() throws(PolicyError) -> Duration {
    let text = try string()
    let units: [(String, Int)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
    for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
      if let number = Int(text.dropLast(suffix.count)), number >= 0 {
        return .milliseconds(number * milliseconds)
      }
    }
    if let seconds = Int(text), seconds >= 0 { return .seconds(seconds) }
    throw fail("expected a duration like 90s, 5m or 1h, not \"\(text)\"")
  }

  /// The fields of a mapping by name, refusing names the schema does not know (a typo in a
  /// security policy must not be silently ignored).
  public func fields(allowed: Set<String>) throws(PolicyError) -> Fields {
    var values: [String: PolicyNode] = [:]
    for (key, value) in try mapping() {
      guard allowed.contains(key) else {
        throw value.fail(
          "unknown field (expected one of: \(allowed.sorted().joined(separator: ", ")))")
      }
      values[key] = value
    }
    return Fields(owner: self, values: values)
  }

  public struct Fields {
    public let owner: PolicyNode
    let values: [String: PolicyNode]

    public subscript(name: String) -> PolicyNode? { values[name] }

    public func required(_ name: String) throws(PolicyError) -> PolicyNode {
      guard let value = values[name] else { throw owner.fail("missing required field \"\(name)\"") }
      return value
    }
  }
}
