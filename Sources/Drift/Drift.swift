// The Drift module; see ../shared/DESIGN.md for its place in the module map.
