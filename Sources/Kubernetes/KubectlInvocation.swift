/// One kubectl run as Lockstep started it: what `ps` and /proc would show. Given to the
/// client's recorder so tests can prove no secret value ever reaches argv or the environment.
public struct KubectlInvocation: Sendable, Equatable {
  public var executable: String
  public var arguments: [String]
  public var environment: [String: String]
  /// How many bytes went to the child's stdin (the only channel for secret material).
  public var stdinByteCount: Int
}
