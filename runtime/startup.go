package natsfn

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Starting a replica is a row of steps that talk to NATS: connect, declare
// each stream and bucket, create each consumer, the advisory stream... Any
// of them can meet a cluster that is still electing its leaders, a node
// that is down, or replicas racing to create the same R3 stream. Each step
// is therefore retried on its own, with backoff, until it succeeds or the
// process is told to stop; only an error that no waiting can cure (a
// stream that exists with another configuration, a permission the NATS
// user lacks) ends the start, with what to change. Meanwhile /healthz
// answers 200 and /readyz 503 with the step and its last error.

// ErrStartup is wrapped by the error Run returns when a start-up step
// failed for good; errors.Is(err, ErrStartup) tells it from a crash.
var ErrStartup = errors.New("cannot start")

// startupError is a start-up step that failed for good, with advice.
type startupError struct {
	step string
	err  error
	hint string
}

func (e *startupError) Error() string {
	return fmt.Sprintf("%s: %s: %v; %s", ErrStartup, e.step, e.err, e.hint)
}

func (e *startupError) Unwrap() []error { return []error{ErrStartup, e.err} }

// progress is what a starting runtime waits for, for /readyz and the logs.
type progress struct {
	mu      sync.Mutex
	step    string
	attempt int
	lastErr string
	since   time.Time

	// permDenied is the last permissions violation NATS reported on this
	// connection (asynchronously: a denied request just times out).
	permDenied atomic.Pointer[permissionEvent]
}

type permissionEvent struct {
	err error
	at  time.Time
}

// waiting is a snapshot of the start-up step a runtime is waiting for.
type waiting struct {
	Step      string    `json:"step"`
	Attempt   int       `json:"attempt"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since"`
}

func (p *progress) begin(step string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.step, p.attempt, p.lastErr, p.since = step, 0, "", time.Now()
	p.mu.Unlock()
}

func (p *progress) failed(attempt int, err error) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.attempt, p.lastErr = attempt, err.Error()
	p.mu.Unlock()
}

func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.step, p.attempt, p.lastErr = "", 0, ""
	p.mu.Unlock()
}

func (p *progress) waiting() (waiting, bool) {
	if p == nil {
		return waiting{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return waiting{Step: p.step, Attempt: p.attempt, LastError: p.lastErr, Since: p.since}, p.step != ""
}

// notePermission records a permissions violation reported by the server.
func (p *progress) notePermission(err error) {
	if p != nil && errors.Is(err, nats.ErrPermissionViolation) {
		p.permDenied.Store(&permissionEvent{err: err, at: time.Now()})
	}
}

// deniedSince returns a permissions violation reported after t, if any.
func (p *progress) deniedSince(t time.Time) error {
	if p == nil {
		return nil
	}
	if ev := p.permDenied.Load(); ev != nil && !ev.at.Before(t) {
		return ev.err
	}
	return nil
}

// stepBackoff is how a start-up step waits between attempts.
type stepBackoff struct {
	min, max time.Duration
}

// attemptTimeout bounds one attempt of a step: short at first, since
// replicas creating the same R3 stream at once get no answer to some
// requests and the next attempt finds the stream made, then longer, so a
// slow but working cluster is not cut off for ever.
func attemptTimeout(attempt int) time.Duration {
	return min(time.Duration(attempt)*time.Second, 10*time.Second)
}

// awaitStep runs attempt until it succeeds, ctx ends, or it fails for good.
// Every failed attempt is logged once, with its number, and recorded in p
// (nil when nobody reports readiness). attempt gets a context bounded by
// attemptTimeout.
func awaitStep(ctx context.Context, log zerolog.Logger, b stepBackoff, p *progress, step string, attempt func(ctx context.Context) error) error {
	p.begin(step)
	n := 0
	var permanent *startupError
	policy := retrypolicy.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return err != nil && permanent == nil }).
		WithMaxRetries(-1).
		WithBackoff(b.min, b.max).
		WithJitterFactor(0.2).
		OnRetryScheduled(func(e failsafe.ExecutionScheduledEvent[any]) {
			log.Warn().Str("step", step).Int("attempt", e.Attempts()).AnErr("cause", e.LastError()).
				Dur("retry_in", e.Delay).Msg("waiting for NATS: " + step + "; retrying")
		}).Build()
	err := failsafe.With(policy).WithContext(ctx).Run(func() error {
		n++
		started := time.Now()
		actx, cancel := context.WithTimeout(ctx, attemptTimeout(n))
		defer cancel()
		err := attempt(actx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if denied := p.deniedSince(started); denied != nil {
			err = fmt.Errorf("%w (%w)", err, denied)
		}
		if hint, ok := permanentStartupError(err); ok {
			permanent = &startupError{step: step, err: err, hint: hint}
			return permanent
		}
		p.failed(n, err)
		return err
	})
	if err == nil {
		if n > 1 {
			log.Info().Str("step", step).Int("attempts", n).Msg("done: " + step)
		}
		p.done()
		return nil
	}
	if permanent != nil {
		return permanent
	}
	return err
}

// permanentStartupError reports whether err cannot be cured by waiting, and
// what the operator should change. Everything else (timeouts, no
// responders, a cluster without a leader, no peers to place a replica on
// yet) is worth another attempt.
func permanentStartupError(err error) (string, bool) {
	switch {
	case errors.Is(err, nats.ErrPermissionViolation):
		return "the NATS user lacks a permission this service needs: grant it (`natsfn nats-config` generates the users)", true
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, nats.ErrAccountAuthExpired), errors.Is(err, nats.ErrNkeysNotSupported):
		return "NATS refused the credentials: check --nats-user/--nats-password, --nats-token, --nats-creds or --nats-nkey", true
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, nats.ErrNoResponders):
		// Only JetStream API requests are made while starting, and every
		// server with JetStream on answers them (a cluster without a leader
		// says so, or stays silent): nobody listening means JetStream is off.
		return jetStreamOff, true
	case isTLSConfigError(err):
		return "the TLS setup does not match the server's: check --nats-tls-ca/--nats-tls-cert/--nats-tls-key", true
	}
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return "", false
	}
	switch api.ErrorCode {
	case 10058: // stream name already in use with a different configuration
		return "a stream of this name exists with a configuration natsfn cannot update to (e.g. another storage type or retention): delete it (`nats stream rm`) or rename one of them", true
	case 10052, 10069: // invalid stream configuration; update refused
		return "JetStream refuses this configuration: change the service's Streams or the runtime's settings; if the stream exists with other settings (`nats stream info`), remove it with `nats stream rm` (its messages go with it) or match them", true
	case 10065: // subjects overlap with an existing stream
		return "another stream already captures some of these subjects: change the service's Streams, or remove the overlap from the other stream", true
	case 10074: // replicas > 1 not supported in non-clustered mode
		return "this NATS server is not clustered: set --replicas 1 (NATSFN_REPLICAS), or connect to a cluster", true
	case 10076, 10039: // JetStream not enabled (for the account)
		return jetStreamOff, true
	case 10013, 10106, 10138, 10126: // consumer name, filters or replicas clash
		return "a consumer of this name exists with another configuration: delete it (`nats consumer rm`) and start again", true
	case 10002, 10047, 10028: // account or server limits exceeded
		return "JetStream has no room for this stream or bucket under the account's or server's limits: raise them, or lower --replicas or the streams' MaxAge", true
	}
	return "", false
}

const jetStreamOff = "JetStream is not enabled for this server or account: start nats-server with -js (or jetstream {} in its config) and give the account JetStream limits"

func isTLSConfigError(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		strings.Contains(err.Error(), "nats: secure connection required") ||
		strings.Contains(err.Error(), "nats: secure connection not available")
}
