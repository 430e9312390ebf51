import Alpha
internal import CThing

/// Names a type of Alpha: the import is used.
public func makeAlpha() -> Alpha { Alpha() }
