package natsfn

// SetCrashPoint lets tests kill the process at a crash point.
func SetCrashPoint(f func(point string)) { crashPoint = f }
