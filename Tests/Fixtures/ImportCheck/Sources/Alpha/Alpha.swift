/// A type of the fixture's lowest module.
public struct Alpha {
  public init() {}
}

/// Members of a public extension are public without the keyword.
public extension String {
  var alphaShouted: String { uppercased() }
}
