extension Duration {
  /// The duration in seconds as a `Double`, for `sleep`, `Date` arithmetic and printed timings.
  public var inSeconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}
