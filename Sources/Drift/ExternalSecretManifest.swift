import Foundation
import Yams

/// The key names External Secrets Operator's `ExternalSecret` objects put in their Secrets,
/// read from YAML manifests (possibly multi-document) or from kubectl's JSON list.
///
/// `spec.data[].secretKey` names one key each. `spec.dataFrom[]` means "every key of" a
/// path in the secret store: it is kept as a reference for the loader to resolve against a
/// `vault:` source, never guessed here. Anything that decides the Secret's keys in a way
/// this reader does not model (a template, a `find`, a `rewrite`) is refused with the
/// document that holds it, so a drift report is never built on an inventory it invented.
struct ExternalSecretManifest {
  /// A `dataFrom` entry that takes every key of one store path.
  struct Reference: Equatable {
    let key: String
    /// `file:line (document N)`, for messages.
    let place: String
    let location: KeyInventory.Location
  }

  /// Why a manifest cannot be used: one sentence naming the file and document, never a
  /// value from it.
  struct Problem: Error, Equatable {
    let message: String
  }

  /// Largest manifest read; an ExternalSecret is a few hundred bytes.
  static let maxBytes = 1 << 20
  /// Deepest nesting accepted before the YAML parser sees the text (an ExternalSecret
  /// needs about 8); keeps a hostile document from exhausting the stack.
  static let maxDepth = 64

  var keys: [(name: String, location: KeyInventory.Location)] = []
  var references: [Reference] = []
  var notes: [KeyInventory.Note] = []
  /// How many ExternalSecret objects were read.
  var objects = 0

  /// Reads every document of one file (or of kubectl's answer, `file` naming the source).
  mutating func read(_ bytes: [UInt8], file: String) throws(Problem) {
    guard bytes.count <= Self.maxBytes else {
      throw Problem(message: "\(file) is larger than \(Self.maxBytes >> 20) MiB")
    }
    if let line = Self.tooDeep(bytes) {
      throw Problem(
        message: "\(file):\(line) nests deeper than \(Self.maxDepth) levels")
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw Problem(message: "\(file) is not UTF-8 text")
    }
    let parser: Parser
    do {
      parser = try Parser(yaml: text, resolver: .basic, encoding: .utf8)
    } catch {
      throw Problem(message: "\(file)\(Self.line(of: error)) is not valid YAML")
    }
    var index = 0
    while true {
      index += 1
      let node: Node?
      do {
        node = try parser.nextRoot()
      } catch {
        // The parser's own message quotes the offending text, which may be a value.
        throw Problem(
          message: "\(file)\(Self.line(of: error)) (document \(index)) is not valid YAML")
      }
      guard let node else { break }
      try readObject(node, file: file, document: index)
    }
  }

  /// One top-level object: an ExternalSecret, a List of them (kubectl), or another kind,
  /// which is noted and skipped (manifest files often bundle several kinds).
  mutating func readObject(_ node: Node, file: String, document: Int) throws(Problem) {
    let line = node.mark?.line
    let place = "\(file):\(line ?? 1) (document \(document))"
    guard let mapping = node.mapping else {
      if node.scalar?.string.isEmpty ?? false { return }  // an empty document
      throw Problem(message: "\(place) is not a Kubernetes object")
    }
    let kind = mapping["kind"]?.scalar?.string
    if let kind, kind.hasSuffix("List"), let items = mapping["items"]?.sequence {
      for item in items { try readObject(item, file: file, document: document) }
      return
    }
    let apiVersion = mapping["apiVersion"]?.scalar?.string ?? ""
    guard kind == "ExternalSecret", apiVersion.hasPrefix("external-secrets.io/") else {
      var shown = kind.flatMap { Self.isPlainWord($0) ? "kind \($0)" : nil } ?? "another kind"
      if kind == "ExternalSecret" { shown += " outside the external-secrets.io group" }
      notes.append(
        .init(
          message: "document \(document) of \(file) is \(shown), not an ExternalSecret; skipped",
          location: .init(file: file, line: line)))
      return
    }
    objects += 1
    let spec = mapping["spec"]?.mapping
    if let target = spec?["target"]?.mapping, let template = target["template"]?.mapping,
      template["data"] != nil || template["templateFrom"] != nil
    {
      throw Problem(
        message:
          "\(place): spec.target.template decides the Secret's keys, which drift does not model")
    }
    if let data = spec?["data"] {
      guard let entries = data.sequence else {
        throw Problem(message: "\(place): spec.data is not a list")
      }
      for (position, entry) in entries.enumerated() {
        let entryLine = entry.mark?.line ?? line
        guard let name = entry.mapping?["secretKey"]?.scalar?.string else {
          throw Problem(
            message:
              "\(file):\(entryLine ?? 1) (document \(document)): spec.data[\(position)] has no secretKey"
          )
        }
        guard Self.isSecretKey(name) else {
          throw Problem(
            message:
              "\(file):\(entryLine ?? 1) (document \(document)): spec.data[\(position)].secretKey is not a valid Secret key name"
          )
        }
        keys.append((name, .init(file: file, line: entryLine)))
      }
    }
    if let dataFrom = spec?["dataFrom"] {
      guard let entries = dataFrom.sequence else {
        throw Problem(message: "\(place): spec.dataFrom is not a list")
      }
      for (position, entry) in entries.enumerated() {
        let at = "\(file):\(entry.mark?.line ?? line ?? 1) (document \(document))"
        guard let key = Self.extractedKey(entry) else {
          throw Problem(
            message:
              "\(at): spec.dataFrom[\(position)] is not a plain extract of one path (find, rewrite, property and generators cannot be resolved)"
          )
        }
        references.append(
          .init(key: key, place: at, location: .init(file: file, line: entry.mark?.line ?? line)))
      }
    }
  }

  /// The store path of a `dataFrom` entry that copies one secret's keys unchanged:
  /// `extract: {key: K}` (v1beta1/v1) or `key: K` (v1alpha1). nil for anything else.
  static func extractedKey(_ entry: Node) -> String? {
    guard let mapping = entry.mapping else { return nil }
    let allowed: Set<String> = [
      "key", "version", "conversionStrategy", "decodingStrategy", "metadataPolicy",
    ]
    var body = mapping
    if let extract = mapping["extract"] {
      guard mapping.count == 1, let inner = extract.mapping else { return nil }
      body = inner
    }
    for (name, value) in body {
      guard let name = name.scalar?.string, allowed.contains(name) else { return nil }
      let text = value.scalar?.string
      if name == "conversionStrategy", text != "Default" { return nil }
      if name == "decodingStrategy", text != "None" { return nil }
      if name == "metadataPolicy", text != "None" { return nil }
    }
    guard let key = body["key"]?.scalar?.string, !key.isEmpty,
      key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
    else { return nil }
    return key
  }

  /// A Secret's key: `[-._a-zA-Z0-9]+`, at most 253 characters (what the API accepts).
  static func isSecretKey(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    return !bytes.isEmpty && bytes.count <= 253
      && bytes.allSatisfy { byte in
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte)
          || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x2E || byte == 0x5F
      }
  }

  static func isPlainWord(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    return !bytes.isEmpty && bytes.count <= 63
      && bytes.allSatisfy {
        (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
      }
  }

  /// The first line where block indentation plus flow brackets nest deeper than allowed.
  /// Counts every bracket, quoted or not: it may over-count, never under-count.
  static func tooDeep(_ bytes: [UInt8]) -> Int? {
    var indents: [Int] = []
    var flow = 0
    var line = 0
    for row in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
      line += 1
      var index = row.startIndex
      while index < row.endIndex, row[index] == 0x20 { index += 1 }
      if index < row.endIndex, row[index] != 0x23, row[index] != 0x0D {
        let column = index - row.startIndex
        while let last = indents.last, last >= column { indents.removeLast() }
        indents.append(column)
        var dashes = 0
        while index < row.endIndex, row[index] == 0x2D,
          index + 1 == row.endIndex || row[index + 1] == 0x20
        {
          dashes += 1
          index += 1
          while index < row.endIndex, row[index] == 0x20 { index += 1 }
        }
        if indents.count + dashes + flow > maxDepth { return line }
      }
      for byte in row[index...] {
        if byte == 0x5B || byte == 0x7B {
          flow += 1
          if indents.count + flow > maxDepth { return line }
        } else if (byte == 0x5D || byte == 0x7D) && flow > 0 {
          flow -= 1
        }
      }
    }
    return nil
  }

  static func line(of error: any Error) -> String {
    guard let error = error as? YamlError else { return "" }
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
      return ":\(mark.line)"
    default: return ""
    }
  }
}
