package natsfn

import (
	"errors"
	"fmt"
	"regexp"
)

// Service groups functions under one micro service: one name, one version,
// one instance per replica in `nats micro ls`.
type Service struct {
	Name        string
	Version     string // semantic version, e.g. "1.0.0"
	Description string
	Metadata    map[string]string
	Functions   []*Function
	// Streams this service publishes its events on; created or updated at start.
	Streams []Stream
	// Buckets are the key-value buckets the service owns; created at start.
	Buckets []Bucket
	// Jobs run periodically on every replica.
	Jobs []Job
}

var semverRegexp = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-.]+)?(?:\+[0-9A-Za-z-.]+)?$`)

// Validate reports a service that micro would refuse, before anything connects.
func (s Service) Validate() error {
	if !nameRegexp.MatchString(s.Name) {
		return fmt.Errorf("service name %q: use letters, digits, '-' and '_'", s.Name)
	}
	if !semverRegexp.MatchString(s.Version) {
		return fmt.Errorf("service %q: version %q is not a semantic version like 1.0.0", s.Name, s.Version)
	}
	if len(s.Functions) == 0 {
		return fmt.Errorf("service %q: no functions", s.Name)
	}
	for _, j := range s.Jobs {
		if j.Every <= 0 || j.Run == nil {
			return fmt.Errorf("service %q: job %q needs Every > 0 and Run", s.Name, j.Name)
		}
	}
	seen := map[string]bool{}
	var errs []error
	for _, f := range s.Functions {
		if f == nil {
			errs = append(errs, fmt.Errorf("service %q: nil function", s.Name))
			continue
		}
		if err := f.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
		}
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("service %q: function %q defined twice", s.Name, f.Name))
		}
		seen[f.Name] = true
	}
	return errors.Join(errs...)
}

// subject is where a function of this service takes requests.
func (s Service) subject(f *Function) string {
	if f.Subject != "" {
		return f.Subject
	}
	return s.Name + "." + f.Name
}
