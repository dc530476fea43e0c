package wire

import "strings"

// SubjectsCollide reports whether some subject matches both patterns, with
// NATS wildcards: '*' is one token, '>' one or more at the end.
func SubjectsCollide(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == ">" || tb[i] == ">" {
			return true
		}
		if ta[i] != tb[i] && ta[i] != "*" && tb[i] != "*" {
			return false
		}
	}
	return len(ta) == len(tb)
}
