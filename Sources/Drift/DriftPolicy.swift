import Foundation
import Yams

/// `policies/drift/*.yaml`: the sources to compare per environment, so CI runs
/// `lockstep drift --policy FILE --env production` instead of a long command line.
public struct DriftPolicy: Sendable, Decodable {
  public struct Environment: Sendable, Decodable {
    public let expect: String
    public let against: [String]
    public let ignore: [String]?
    /// `expect-to-against`, `against-to-expect`, `both` or `auto` (the default).
    public let direction: String?
  }

  public let version: Int?
  /// Globs ignored in every environment.
  public let ignore: [String]?
  public let environments: [String: Environment]

  public static func load(_ path: String) throws(DriftError) -> DriftPolicy {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .policy(path: path, reason: "cannot be read")
    }
    do {
      return try YAMLDecoder().decode(DriftPolicy.self, from: String(decoding: data, as: UTF8.self))
    } catch let error as DecodingError {
      throw .policy(path: path, reason: Self.describe(error))
    } catch {
      throw .policy(path: path, reason: "is not valid YAML")
    }
  }

  /// The sources and ignore globs of one environment.
  public func resolve(_ name: String, path: String) throws(DriftError) -> (
    expect: SourceSpec, against: [SourceSpec], ignore: [String], direction: DriftDirection?
  ) {
    guard let environment = environments[name] else {
      throw .unknownEnvironment(name, known: environments.keys.sorted())
    }
    let expect = try SourceSpec(parsing: environment.expect, policy: path)
    var against: [SourceSpec] = []
    for source in environment.against {
      against.append(try SourceSpec(parsing: source, policy: path))
    }
    guard !against.isEmpty else {
      throw .policy(path: path, reason: "environment \(name) has no 'against' sources")
    }
    var direction: DriftDirection?
    if let text = environment.direction {
      guard let parsed = DriftDirection(rawValue: text) else {
        throw .policy(
          path: path,
          reason:
            "environment \(name) has direction \(text); use \(DriftDirection.allCases.map(\.rawValue).joined(separator: ", "))"
        )
      }
      direction = parsed
    }
    return (expect, against, (ignore ?? []) + (environment.ignore ?? []), direction)
  }

  static func describe(_ error: DecodingError) -> String {
    switch error {
    case .keyNotFound(let key, let context):
      return "missing '\(key.stringValue)' at \(path(context))"
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
      return "unexpected value at \(path(context))"
    case .dataCorrupted(let context): return "invalid at \(path(context))"
    @unknown default: return "does not match the expected structure"
    }
  }

  static func path(_ context: DecodingError.Context) -> String {
    let path = context.codingPath.map(\.stringValue).joined(separator: ".")
    return path.isEmpty ? "the top level" : path
  }
}
