import Alpha

/// Mentions Alpha only in a comment and a string: the import is unused.
func describe() -> String { "Alpha" }
