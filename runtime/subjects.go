package natsfn

import (
	"errors"

	"github.com/natsfn/natsfn/runtime/internal/wire"
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
						if subj := s.Subject(f); wire.SubjectsCollide(pattern, subj) {
							errs = append(errs, configError("request subject %q of %s/%s is captured by stream %s (%q): use distinct subjects for requests and events",
								subj, s.Name, f.Name, st.Name, pattern))
						}
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}
