import Alpha

/// Names only a member of Alpha's public extension: the import is used.
func shout(_ text: String) -> String { text.alphaShouted }
