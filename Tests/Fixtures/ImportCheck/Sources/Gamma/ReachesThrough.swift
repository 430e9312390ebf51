import Alpha
import Beta

/// Alpha is visible through Beta and compiles, but Gamma does not declare it.
func reach() -> Alpha { makeAlpha() }
