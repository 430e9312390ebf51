/// Which way a source is compared with the expected set.
public enum DriftDirection: String, Sendable, Codable, CaseIterable {
  /// Every expected key must be in the source; extra keys there are not drift.
  case expectToAgainst = "expect-to-against"
  /// Every key of the source must be expected; expected keys it lacks are not drift.
  case againstToExpect = "against-to-expect"
  /// Both: missing and extra keys are drift.
  case both
  /// `both`, except where one side is a `code:` scan, which finds only the names written
  /// literally: then only the scan's keys must be in the other side (docs/drift.md).
  case auto

  /// The direction used for one compared source.
  func resolved(expected: KeyInventory, source: KeyInventory) -> DriftDirection {
    guard self == .auto else { return self }
    switch (expected.isLowerBound, source.isLowerBound) {
    case (false, true): return .againstToExpect
    case (true, false): return .expectToAgainst
    default: return .both
    }
  }
}

/// Compares each source's key names with the expected set.
///
/// Keys matching an `--ignore` glob are left out on both sides. A missing key and an extra
/// key that differ only in letter case are still drift (environment names are
/// case-sensitive), with a warning pointing out the likely typo.
public enum DriftCheck {
  public static func compare(
    expected: KeyInventory, against sources: [KeyInventory], ignore: [String] = [],
    direction: DriftDirection = .both
  ) -> DriftReport {
    func kept(_ name: String) -> Bool { !ignore.contains { Glob.matches($0, name) } }
    let expectedNames = Set(expected.keys.keys.filter(kept))

    let results = sources.map { inventory -> DriftReport.SourceResult in
      let names = Set(inventory.keys.keys.filter(kept))
      let way = direction.resolved(expected: expected, source: inventory)
      let missing =
        way == .againstToExpect
        ? []
        : expectedNames.subtracting(names).sorted().map { key in
          finding(key, expected.location(of: key))
        }
      let extra =
        way == .expectToAgainst
        ? []
        : names.subtracting(expectedNames).sorted().map { key in
          finding(key, inventory.location(of: key))
        }
      var warnings: [DriftReport.Warning] = []
      let extraByFolded = Dictionary(grouping: extra.map(\.key)) { $0.lowercased() }
      for finding in missing {
        for other in extraByFolded[finding.key.lowercased()] ?? [] {
          let location = inventory.location(of: other)
          warnings.append(
            .init(
              kind: "case", key: other,
              message: "\(other) differs only in case from the expected \(finding.key)",
              file: location?.file, line: location?.line))
        }
      }
      warnings += sourceWarnings(inventory, kept: kept)
      return .init(
        source: inventory.source, count: names.count, direction: way, missing: missing,
        extra: extra, warnings: warnings)
    }
    return DriftReport(
      expected: .init(
        source: expected.source, count: expectedNames.count, keys: expectedNames.sorted(),
        warnings: sourceWarnings(expected, kept: kept)),
      sources: results, ignored: ignore)
  }

  static func finding(_ key: String, _ location: KeyInventory.Location?) -> DriftReport.Finding {
    .init(key: key, file: location?.file, line: location?.line)
  }

  static func sourceWarnings(_ inventory: KeyInventory, kept: (String) -> Bool)
    -> [DriftReport.Warning]
  {
    var warnings: [DriftReport.Warning] = inventory.emptyValues.filter(kept).sorted().map { key in
      let location = inventory.location(of: key)
      return .init(
        kind: "empty", key: key, message: "\(key) has an empty value in \(inventory.source)",
        file: location?.file, line: location?.line)
    }
    warnings += inventory.notes.map { note in
      .init(
        kind: "source", key: nil, message: note.message, file: note.location?.file,
        line: note.location?.line)
    }
    return warnings
  }
}
