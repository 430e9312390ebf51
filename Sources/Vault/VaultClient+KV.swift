import Foundation
import HTTP
import LockstepCore

/// A caller's `mount/path` resolved against its mount.
struct KVPath: Sendable {
  let mount: VaultMount
  /// Below the mount, without leading or trailing slash.
  let relative: String

  var display: String { mount.path + relative }

  /// The API path for a KV v2 `segment` (`data`, `metadata`, `delete`, …), or the plain path
  /// on KV v1.
  func api(_ segment: String) -> String { mount.apiPath(segment, relative) }
}

extension VaultClient {
  // MARK: - Public KV API

  /// Reads the latest version, or `version` on KV v2.
  public func read(_ path: String, version: Int? = nil) async throws -> VaultSecret {
    try await onPool { client in try self.read(client, path, version: version) }
  }

  /// Writes the whole secret (keys not in `data` are gone in the new version). With `cas`,
  /// the write succeeds only if the current version is `cas` (0: only if absent).
  /// Returns the new version (nil on KV v1).
  @discardableResult
  public func write(_ path: String, _ data: SecretMap, cas: Int? = nil) async throws -> Int? {
    try await onPool { client in try self.write(client, path, data, cas: cas) }
  }

  /// Changes the keys in `data`, removes `removing`, and keeps every other key.
  ///
  /// KV v2: a JSON merge-patch (`PATCH`, `application/merge-patch+json`); where the server
  /// or the token's policy does not allow PATCH, a read-modify-write with `cas` set to the
  /// version read, so a concurrent writer makes this fail instead of being overwritten.
  /// KV v1 has no versions: the read-modify-write there is not protected.
  @discardableResult
  public func patch(_ path: String, _ data: SecretMap, removing: [String] = [], cas: Int? = nil)
    async throws -> Int?
  {
    try await onPool { client in
      try self.patch(client, path, data, removing: removing, cas: cas)
    }
  }

  /// Names directly under `path`; folders end with `/`. Empty when nothing is there.
  public func list(_ path: String) async throws -> [String] {
    try await onPool { client in try self.list(client, path) }
  }

  /// KV v2 metadata: versions, custom metadata, deletion state.
  public func metadata(_ path: String) async throws -> VaultMetadata {
    try await onPool { client in try self.metadata(client, path) }
  }

  /// Sets KV v2 metadata; nil leaves a setting as it is.
  public func writeMetadata(
    _ path: String, maxVersions: Int? = nil, casRequired: Bool? = nil,
    customMetadata: [String: String]? = nil
  ) async throws {
    try await onPool { client in
      let kv = try self.resolveKV(client, path, needsVersion2: true)
      var fields: [(String, SecretJSON)] = []
      if let maxVersions { fields.append(("max_versions", .int(maxVersions))) }
      if let casRequired { fields.append(("cas_required", .bool(casRequired))) }
      if let customMetadata {
        let entries = customMetadata.sorted(by: { $0.key < $1.key })
        fields.append(("custom_metadata", .object(entries.map { ($0.key, .string($0.value)) })))
      }
      let body = SecretJSON.object(fields).render()
      try self.perform(
        client, Call(.post, kv.api("metadata"), body: .secret(body)), displayPath: kv.display)
    }
  }

  /// Soft-deletes the latest version (or `versions`) on KV v2; deletes the secret on v1.
  public func delete(_ path: String, versions: [Int] = []) async throws {
    try await onPool { client in
      let kv = try self.resolveKV(client, path)
      if versions.isEmpty || kv.mount.kvVersion == 1 {
        try self.perform(client, Call(.delete, kv.api("data")), displayPath: kv.display)
      } else {
        try self.perform(
          client, Call(.post, kv.api("delete"), body: Self.versionsBody(versions)),
          displayPath: kv.display)
      }
    }
  }

  /// Restores soft-deleted versions (KV v2).
  public func undelete(_ path: String, versions: [Int]) async throws {
    try await onPool { client in
      let kv = try self.resolveKV(client, path, needsVersion2: true)
      try self.perform(
        client, Call(.post, kv.api("undelete"), body: Self.versionsBody(versions)),
        displayPath: kv.display)
    }
  }

  /// Destroys versions for good (KV v2).
  public func destroy(_ path: String, versions: [Int]) async throws {
    try await onPool { client in
      let kv = try self.resolveKV(client, path, needsVersion2: true)
      try self.perform(
        client, Call(.put, kv.api("destroy"), body: Self.versionsBody(versions)),
        displayPath: kv.display)
    }
  }

  /// Removes the secret with all its versions and metadata (KV v2), or the secret (v1).
  public func deleteAllVersions(_ path: String) async throws {
    try await onPool { client in
      let kv = try self.resolveKV(client, path)
      try self.perform(client, Call(.delete, kv.api("metadata")), displayPath: kv.display)
    }
  }

  /// The mount `path` lives on (cached per mount).
  public func mount(for path: String) async throws -> VaultMount {
    try await onPool { client in try self.resolveKV(client, path).mount }
  }

  // MARK: - Synchronous bodies (run on a pool thread)

  func read(_ client: HTTPClient, _ path: String, version: Int?) throws -> VaultSecret {
    let kv = try resolveKV(client, path, needsVersion2: version != nil)
    let call = Call(.get, kv.api("data"), query: version.map { "version=\($0)" })
    let response = try send(client, call)
    if response.status == 404 && kv.mount.kvVersion == 2 {
      // OpenBao and Vault answer 404 with the version's metadata for a deleted or
      // destroyed version.
      let state = response.body.withUnsafeBytes { bytes -> (Int, Bool, Bool)? in
        guard let root = try? JSONParser.parse(bytes), let meta = root["data"]?["metadata"],
          let number = meta["version"]?.int(in: bytes)
        else { return nil }
        let deleted = !(meta["deletion_time"]?.text(in: bytes) ?? "").isEmpty
        return (number, deleted, meta["destroyed"]?.bool ?? false)
      }
      if let (number, deleted, destroyed) = state {
        if destroyed { throw VaultError.versionDestroyed(path: kv.display, version: number) }
        if deleted { throw VaultError.versionDeleted(path: kv.display, version: number) }
      }
    }
    guard response.isSuccess else {
      throw try error(for: response, call, client: client, displayPath: kv.display)
    }
    return try Self.decodeSecret(response, kv)
  }

  func write(_ client: HTTPClient, _ path: String, _ data: SecretMap, cas: Int?) throws -> Int? {
    let kv = try resolveKV(client, path)
    if cas != nil && kv.mount.kvVersion == 1 { throw VaultError.casUnsupported(path: kv.display) }
    let map = Self.json(data)
    let body = kv.mount.kvVersion == 2 ? Self.kv2Body(map, cas: cas) : map
    let call = Call(.post, kv.api("data"), body: .secret(body.render()), capability: "update")
    let response = try send(client, call)
    guard response.isSuccess else {
      throw try mapWriteError(response, call, client: client, kv: kv, cas: cas)
    }
    return try Self.version(in: response)
  }

  func patch(
    _ client: HTTPClient, _ path: String, _ data: SecretMap, removing: [String], cas: Int?
  ) throws -> Int? {
    let kv = try resolveKV(client, path)
    if kv.mount.kvVersion == 2 {
      let body = Self.kv2Body(Self.json(data, removing: removing), cas: cas)
      let call = Call(
        .patch, kv.api("data"), body: .secret(body.render()),
        contentType: "application/merge-patch+json")
      let response = try send(client, call)
      if response.isSuccess { return try Self.version(in: response) }
      // 405: a server without PATCH; 403: a policy with `update` but not `patch`.
      guard response.status == 405 || response.status == 403 else {
        throw try mapWriteError(response, call, client: client, kv: kv, cas: cas)
      }
    }
    let current = try read(client, path, version: nil)
    if let cas, let version = current.version, version != cas {
      throw VaultError.casMismatch(path: kv.display, expected: cas, errors: [])
    }
    var merged = current.data.merging(data)
    for key in removing { merged[key] = nil }
    return try write(client, path, merged, cas: current.version)
  }

  func list(_ client: HTTPClient, _ path: String) throws -> [String] {
    let kv = try resolveKV(client, path)
    var apiPath = kv.api("metadata")
    if !apiPath.hasSuffix("/") { apiPath += "/" }
    let call = Call(.list, apiPath)
    let response = try send(client, call)
    if response.status == 404 { return [] }
    guard response.isSuccess else {
      throw try error(for: response, call, client: client, displayPath: kv.display)
    }
    return response.body.withUnsafeBytes { bytes in
      guard let root = try? JSONParser.parse(bytes) else { return [] }
      return root["data"]?["keys"]?.strings(in: bytes) ?? []
    }
  }

  func metadata(_ client: HTTPClient, _ path: String) throws -> VaultMetadata {
    let kv = try resolveKV(client, path, needsVersion2: true)
    let response = try perform(client, Call(.get, kv.api("metadata")), displayPath: kv.display)
    return try response.body.withUnsafeBytes { bytes in
      guard let root = try? JSONParser.parse(bytes), let data = root["data"] else {
        throw VaultError.invalidResponse(path: kv.display, detail: "no metadata object")
      }
      var versions: [VaultMetadata.Version] = []
      if case .object(let members) = data["versions"] ?? .null {
        for member in members {
          guard let number = Int(member.key) else { continue }
          let value = member.value
          versions.append(
            VaultMetadata.Version(
              version: number, createdTime: value["created_time"]?.text(in: bytes) ?? "",
              deletionTime: value["deletion_time"]?.text(in: bytes) ?? "",
              destroyed: value["destroyed"]?.bool ?? false))
        }
      }
      return VaultMetadata(
        path: kv.display,
        currentVersion: data["current_version"]?.int(in: bytes) ?? 0,
        oldestVersion: data["oldest_version"]?.int(in: bytes) ?? 0,
        maxVersions: data["max_versions"]?.int(in: bytes) ?? 0,
        casRequired: data["cas_required"]?.bool ?? false,
        createdTime: data["created_time"]?.text(in: bytes) ?? "",
        updatedTime: data["updated_time"]?.text(in: bytes) ?? "",
        customMetadata: data["custom_metadata"]?.stringMap(in: bytes) ?? [:],
        versions: versions.sorted { $0.version < $1.version })
    }
  }

  // MARK: - Mount resolution

  /// Finds the KV mount of `path` (cached), so `data/`/`metadata/` can be inserted. The
  /// path is validated here (`VaultPath`), and the mount is matched by whole segments.
  func resolveKV(_ client: HTTPClient, _ path: String, needsVersion2: Bool = false) throws
    -> KVPath
  {
    var text = Substring(path)
    while text.hasSuffix("/") { text = text.dropLast() }
    // The usual path is checked with one scan; anything else is parsed (and refused).
    let clean = String(text)
    let parsed: VaultPath? = VaultPath.isPlain(clean) ? nil : try VaultPath(clean)
    let display = parsed?.description ?? clean
    let mount: VaultMount
    if let cached = cachedMount(for: display) {
      mount = cached
    } else {
      mount = try lookUpMount(client, parsed ?? VaultPath(clean))
      mounts.withLock { $0[mount.path] = mount }
    }
    guard mount.kvVersion > 0 else { throw VaultError.notKV(mount: mount.path, type: mount.type) }
    if needsVersion2 && mount.kvVersion != 2 {
      throw VaultError.needsVersion2(path: display)
    }
    // `mount.path` ends with `/` and is a whole-segment prefix of `display/` (checked when
    // the mount was looked up or matched in the cache).
    let withSlash = display + "/"
    guard withSlash.hasPrefix(mount.path) else {
      throw VaultError.invalidResponse(
        path: display, detail: "the mount \(mount.path) does not contain it")
    }
    let relative = String(withSlash.dropFirst(mount.path.count))
    return KVPath(
      mount: mount, relative: relative.hasSuffix("/") ? String(relative.dropLast()) : relative)
  }

  private func cachedMount(for path: String) -> VaultMount? {
    // Mount paths end with `/` and `path`'s segments are validated, so a string prefix of
    // `path/` is a whole-segment prefix (`kv/` never matches `kvx/a/`).
    let withSlash = path + "/"
    return mounts.withLock { cache in
      cache.values.filter { withSlash.hasPrefix($0.path) }.max { $0.path.count < $1.path.count }
    }
  }

  private func lookUpMount(_ client: HTTPClient, _ path: VaultPath) throws -> VaultMount {
    let call = Call(.get, "sys/internal/ui/mounts/" + path.description)
    let response = try send(client, call)
    let errors = Self.errors(in: response)
    if response.status == 403 && errors.contains(where: { $0.contains("preflight") }) {
      // OpenBao answers this for a path on no mount (even to root) and for a mount the
      // token has no rights on: the token's own capabilities tell which sentence is true.
      if try isDenied(client, path) { throw VaultError.mountDenied(path: path.description) }
      throw VaultError.noMount(path: path.description)
    }
    if response.status == 404 || response.status == 400 {
      throw VaultError.noMount(path: path.description)
    }
    guard response.isSuccess else {
      throw try error(for: response, call, client: client, displayPath: path.description)
    }
    return try response.body.withUnsafeBytes { bytes in
      guard let root = try? JSONParser.parse(bytes), let data = root["data"],
        let mountPath = data["path"]?.text(in: bytes), let type = data["type"]?.text(in: bytes)
      else { throw VaultError.noMount(path: path.description) }
      // The server names the mount; it must be a whole-segment prefix of what was asked.
      guard let parsed = try? VaultPath(mountPath), !parsed.isEmpty, path.hasPrefix(parsed)
      else {
        throw VaultError.invalidResponse(
          path: path.description, detail: "the mount it names does not contain the path")
      }
      var version = 0
      if type == "kv" || type == "generic" {
        version = data["options"]?["version"]?.int(in: bytes) ?? 1
      }
      return VaultMount(
        path: VaultPath(stripping: parsed).description + "/", type: type, kvVersion: version)
    }
  }

  /// Whether the token has no capability at all on `path` (`sys/capabilities-self`, which
  /// every token may call).
  private func isDenied(_ client: HTTPClient, _ path: VaultPath) throws -> Bool {
    let body = SecretJSON.object([("paths", .array([.string(path.description)]))])
    let response = try send(
      client, Call(.post, "sys/capabilities-self", body: .secret(body.render())))
    guard response.isSuccess else { return false }
    let capabilities = response.body.withUnsafeBytes { bytes in
      guard let root = try? JSONParser.parse(bytes) else { return [String]() }
      return root["capabilities"]?.strings(in: bytes)
        ?? root["data"]?["capabilities"]?.strings(in: bytes) ?? []
    }
    return capabilities.allSatisfy { $0 == "deny" }
  }

  func forgetMount(_ mountPath: String) {
    let key = mountPath.hasSuffix("/") ? mountPath : mountPath + "/"
    mounts.withLock { _ = $0.removeValue(forKey: key) }
  }

  // MARK: - Encoding and decoding

  private func mapWriteError(
    _ response: HTTPResponse, _ call: Call, client: HTTPClient, kv: KVPath, cas: Int?
  ) throws -> VaultError {
    let mapped = try error(for: response, call, client: client, displayPath: kv.display)
    if case .casMismatch(let path, _, let errors) = mapped {
      return .casMismatch(path: path, expected: cas ?? -1, errors: errors)
    }
    return mapped
  }

  /// `data` as a JSON object: strings escaped, JSON values as their exact text, and each of
  /// `removing` that `data` does not set as `null` (a merge patch's delete).
  static func json(_ data: SecretMap, removing: [String] = []) -> SecretJSON {
    var members: [(String, SecretJSON)] = data.entries.indices.map { index in
      let value = data.entries[index].value
      return (data.entries[index].key, data.json[index] ? .secretJSON(value) : .secretString(value))
    }
    for key in removing where data[key] == nil { members.append((key, .null)) }
    return .object(members)
  }

  /// A KV v2 write or patch body: `{"options":{"cas":N},"data":…}`.
  static func kv2Body(_ data: SecretJSON, cas: Int?) -> SecretJSON {
    var members: [(String, SecretJSON)] = []
    if let cas { members.append(("options", .object([("cas", .int(cas))]))) }
    members.append(("data", data))
    return .object(members)
  }

  static func versionsBody(_ versions: [Int]) -> HTTPBody {
    .text("{\"versions\":[\(versions.map(String.init).joined(separator: ","))]}")
  }

  static func version(in response: HTTPResponse) throws -> Int? {
    response.body.withUnsafeBytes { bytes in
      guard let root = try? JSONParser.parse(bytes) else { return nil }
      return root["data"]?["version"]?.int(in: bytes)
    }
  }

  /// Decodes a read: values go from the response buffer straight into `SecretBytes`, with
  /// one parse of the response.
  static func decodeSecret(_ response: HTTPResponse, _ kv: KVPath) throws -> VaultSecret {
    try response.body.withUnsafeBytes { bytes in
      guard let root = try? JSONParser.parse(bytes) else {
        throw VaultError.invalidResponse(path: kv.display, detail: "not JSON")
      }
      let metadata = root["data"]?["metadata"]
      let data = kv.mount.kvVersion == 2 ? root["data"]?["data"] : root["data"]
      guard case .object(let members) = data else {
        // Some servers answer a deleted version with 200 and `"data": null`.
        if kv.mount.kvVersion == 2, data?.isNull == true,
          let number = metadata?["version"]?.int(in: bytes)
        {
          throw VaultError.versionDeleted(path: kv.display, version: number)
        }
        throw VaultError.invalidResponse(path: kv.display, detail: "no data object")
      }
      var map = SecretMap()
      map.reserveCapacity(members.count)
      for member in members {
        let value = member.value.secret(in: bytes, span: member.span)
        if case .string = member.value {
          map[member.key] = value
        } else {
          map.setJSON(member.key, value)
        }
      }
      // A version that is present must be an integer (`1e999` from a hostile server is an
      // error, never a trap and never "no version").
      var version: Int?
      if kv.mount.kvVersion == 2, let node = metadata?["version"], !node.isNull {
        guard let number = node.int(in: bytes) else {
          throw VaultError.invalidResponse(
            path: kv.display, detail: "its version is not an integer")
        }
        version = number
      }
      return VaultSecret(
        path: kv.display, data: map,
        version: version,
        createdTime: metadata?["created_time"]?.text(in: bytes),
        customMetadata: metadata?["custom_metadata"]?.stringMap(in: bytes) ?? [:])
    }
  }
}
