// The Envelope module; see ../shared/DESIGN.md for its place in the module map.
