package natsfn

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/natsfn/natsfn/runtime/internal/wire"
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
}

var semverRegexp = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-.]+)?(?:\+[0-9A-Za-z-.]+)?$`)

// Validate reports a service that cannot be served, before anything
// connects: a name or version micro would refuse, a function defined
// twice, or a dependency a function declares that the service does not
// provide (a bucket it does not own, an event or record subject none of
// its streams keeps). Every error wraps ErrConfig.
func (s Service) Validate() error {
	if !nameRegexp.MatchString(s.Name) {
		return configError("service name %q: use letters, digits, '-' and '_'", s.Name)
	}
	if !semverRegexp.MatchString(s.Version) {
		return configError("service %q: version %q is not a semantic version like 1.0.0", s.Name, s.Version)
	}
	if len(s.Functions) == 0 {
		return configError("service %q: no functions", s.Name)
	}
	seen := map[string]bool{}
	var errs []error
	for _, f := range s.Functions {
		if f == nil {
			errs = append(errs, configError("service %q: nil function", s.Name))
			continue
		}
		if err := f.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
			continue
		}
		if seen[f.Name] {
			errs = append(errs, configError("service %q: function %q defined twice", s.Name, f.Name))
		}
		seen[f.Name] = true
		errs = append(errs, s.provides(f))
	}
	return errors.Join(errs...)
}

// provides reports the dependencies of f its service does not provide.
func (s Service) provides(f *Function) error {
	var errs []error
	watched := f.Buckets
	if f.Watch != "" {
		watched = append(slices.Clone(watched), f.Watch)
	}
	for _, b := range watched {
		if !slices.ContainsFunc(s.Buckets, func(d Bucket) bool { return d.Name == b }) {
			errs = append(errs, configError("%s/%s uses bucket %q: declare it in the service's Buckets", s.Name, f.Name, b))
		}
	}
	published := append(append([]string{}, f.Emits...), f.Writes...)
	if f.Result != "" {
		published = append(published, f.Result)
	}
	for _, subj := range published {
		if !slices.ContainsFunc(s.Streams, func(st Stream) bool {
			return slices.ContainsFunc(st.Subjects, func(p string) bool { return wire.SubjectsCollide(p, subj) })
		}) {
			errs = append(errs, configError("%s/%s publishes %s: no stream of the service keeps it; declare one in the service's Streams", s.Name, f.Name, subj))
		}
	}
	return errors.Join(errs...)
}

// Consumer is the durable consumer of f's trigger on subject (one of its
// FuncConfig.On), shared by all replicas; KEDA's ScaledObjects and `nats
// consumer info` name it.
func (s Service) Consumer(f *Function, subject string) string {
	return wire.DurableName(s.Name, f.Name, subject)
}

// Subject is where function f of this service takes requests: its
// FuncConfig.Subject, or "<service>.<function>".
func (s Service) Subject(f *Function) string {
	if f.Subject != "" {
		return f.Subject
	}
	return s.Name + "." + f.Name
}
