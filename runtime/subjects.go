package natsfn

import (
	"errors"
	"fmt"
	"strings"
)

// streamsCaptureRequests reports request subjects that a declared stream
// also captures: JetStream would answer such a request with a PubAck before
// the function could, and store every request as an event.
func streamsCaptureRequests(services []Service) error {
	var errs []error
	for _, owner := range services {
		for _, st := range owner.Streams {
			for _, pattern := range st.Subjects {
				for _, s := range services {
					for _, f := range s.Functions {
						if subj := s.subject(f); subjectsCollide(pattern, subj) {
							errs = append(errs, fmt.Errorf("request subject %q of %s/%s is captured by stream %s (%q): use distinct subjects for requests and events",
								subj, s.Name, f.Name, st.Name, pattern))
						}
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// subjectsCollide reports whether some subject matches both patterns, with
// NATS wildcards: '*' is one token, '>' one or more at the end.
func subjectsCollide(a, b string) bool {
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
