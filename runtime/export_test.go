package natsfn

// SetCrashPoint lets tests kill the process at a crash point.
func SetCrashPoint(f func(point string)) { crashPoint = f }

// ParseEvent lets tests check that outputs are valid CloudEvents.
func ParseEvent(h map[string][]string) error {
	_, err := parseEvent(h)
	return err
}
