import Foundation

/// The output formats of `lockstep drift`. Each prints names, sources and locations only.
public enum DriftFormat: String, Sendable, CaseIterable {
  case text, json, github, junit
}

extension DriftReport {
  public func rendered(as format: DriftFormat) -> String {
    switch format {
    case .text: return text()
    case .json: return json()
    case .github: return github()
    case .junit: return junit()
    }
  }

  public func text() -> String {
    var lines = ["expected: \(expected.source) (\(expected.count) keys)"]
    for warning in expected.warnings {
      lines.append("  warning  \(Self.place(warning))\(warning.message)")
    }
    for source in sources {
      let state =
        source.hasDrift ? "\(source.missing.count) missing, \(source.extra.count) extra" : "in sync"
      lines.append(
        "\(source.source) (\(source.count) keys): \(state)\(Self.note(source.direction))")
      for finding in source.missing { lines.append("  missing  \(finding.key)") }
      for finding in source.extra {
        lines.append("  extra    \(finding.key)\(Self.suffix(finding.file, finding.line))")
      }
      for warning in source.warnings {
        lines.append("  warning  \(Self.place(warning))\(warning.message)")
      }
    }
    if hasDrift {
      lines.append(
        "drift: \(missingCount) missing, \(extraCount) extra across \(sources.filter(\.hasDrift).count) of \(sources.count) sources"
      )
    } else {
      lines.append("no drift across \(sources.count) sources")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// Says when only one way was checked, so "in sync" is not read as more than it is.
  static func note(_ direction: DriftDirection) -> String {
    switch direction {
    case .expectToAgainst: return " (checked: expected keys are here)"
    case .againstToExpect: return " (checked: its keys are expected)"
    case .both, .auto: return ""
    }
  }

  /// A source that could not be read, as a workflow command, so the pull request shows why
  /// the check failed and not only a red step.
  public static func githubError(_ message: String) -> String {
    "::error title=lockstep drift::\(data(message))\n"
  }

  static func place(_ warning: Warning) -> String {
    guard let file = warning.file else { return "" }
    return warning.line.map { "\(file):\($0): " } ?? "\(file): "
  }

  static func suffix(_ file: String?, _ line: Int?) -> String {
    guard let file else { return "" }
    return "  (\(file)\(line.map { ":\($0)" } ?? ""))"
  }

  public func json() -> String {
    struct Document: Encodable {
      let drift: Bool
      let missing: Int
      let extra: Int
      let report: DriftReport
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data =
      (try? encoder.encode(
        Document(drift: hasDrift, missing: missingCount, extra: extraCount, report: self)))
      ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self) + "\n"
  }

  /// GitHub Actions workflow commands: `::error file=…,line=…::message`.
  public func github() -> String {
    var lines: [String] = []
    func annotate(_ level: String, _ message: String, _ file: String?, _ line: Int?) {
      var properties = ["title=lockstep drift"]
      if let file { properties.append("file=\(Self.property(file))") }
      if let line { properties.append("line=\(line)") }
      lines.append("::\(level) \(properties.joined(separator: ","))::\(Self.data(message))")
    }
    for warning in expected.warnings {
      annotate("warning", warning.message, warning.file, warning.line)
    }
    for source in sources {
      for finding in source.missing {
        annotate(
          "error",
          "\(finding.key) is expected (\(expected.source)) but missing from \(source.source)",
          finding.file, finding.line)
      }
      for finding in source.extra {
        annotate(
          "error", "\(finding.key) is in \(source.source) but not expected (\(expected.source))",
          finding.file, finding.line)
      }
      for warning in source.warnings {
        annotate("warning", warning.message, warning.file, warning.line)
      }
    }
    lines.append(
      hasDrift
        ? "drift: \(missingCount) missing, \(extraCount) extra"
        : "no drift across \(sources.count) sources")
    return lines.joined(separator: "\n") + "\n"
  }

  static func data(_ text: String) -> String {
    text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
      .replacingOccurrences(of: "\n", with: "%0A")
  }

  static func property(_ text: String) -> String {
    data(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
  }

  /// One test suite per compared source: a test case per expected key (failing when
  /// missing) and a failing case per extra key, which CI systems show as test results.
  public func junit() -> String {
    var xml = [#"<?xml version="1.0" encoding="UTF-8"?>"#]
    let total = sources.reduce(0) { $0 + expected.count + $1.extra.count }
    xml.append(
      #"<testsuites name="lockstep drift" tests="\#(total)" failures="\#(missingCount + extraCount)">"#
    )
    for source in sources {
      let suite = Self.escape(source.source)
      let missing = Set(source.missing.map(\.key))
      let expectedKeys = expected.keys
      xml.append(
        #"  <testsuite name="\#(suite)" tests="\#(expectedKeys.count + source.extra.count)" failures="\#(source.missing.count + source.extra.count)">"#
      )
      for key in expectedKeys {
        let name = Self.escape(key)
        if missing.contains(key) {
          xml.append(
            #"    <testcase classname="\#(suite)" name="\#(name)"><failure message="\#(name) is expected but missing from \#(suite)"/></testcase>"#
          )
        } else {
          xml.append(#"    <testcase classname="\#(suite)" name="\#(name)"/>"#)
        }
      }
      for finding in source.extra {
        let name = Self.escape(finding.key)
        xml.append(
          #"    <testcase classname="\#(suite)" name="\#(name)"><failure message="\#(name) is in \#(suite) but not expected"/></testcase>"#
        )
      }
      if !source.warnings.isEmpty {
        let text = source.warnings.map { Self.escape($0.message) }.joined(separator: "\n")
        xml.append("    <system-out>\(text)</system-out>")
      }
      xml.append("  </testsuite>")
    }
    xml.append("</testsuites>")
    return xml.joined(separator: "\n") + "\n"
  }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
