// Package payment charges orders whose stock is reserved, through the
// payment provider, guarded by failsafe-go: a timeout per call, retries with
// backoff and jitter for transient failures, and a circuit breaker so a
// provider outage fails fast instead of piling up. It refunds cancelled
// orders that were charged. The provider charges an order at most once
// (the order id is the idempotency key) and voids a cancelled order never
// charged, so payment itself stores nothing.
package payment

import (
	"errors"
	"fmt"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Config tunes how the provider is called.
type Config struct {
	CallTimeout time.Duration // one call to the provider; default 2s
	Retries     int           // retries of a transient failure within one invocation; default 2
	RetryMin    time.Duration // backoff before the first retry; default 50ms, doubling, with jitter
	RetryMax    time.Duration // default 1s
	// The circuit opens when at least BreakerRate of the calls in the last
	// BreakerWindow failed transiently, over at least BreakerMinCalls calls:
	// a rate, not a streak, so a few flaky cards under load do not look like
	// an outage. Defaults 0.5, 20 calls, 10s.
	BreakerRate     float64
	BreakerMinCalls uint
	BreakerWindow   time.Duration
	BreakerDelay    time.Duration // how long it stays open before trying again; default 5s
}

// SetDefaults fills the zero values.
func (c *Config) SetDefaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.CallTimeout, 2*time.Second)
	set(&c.RetryMin, 50*time.Millisecond)
	set(&c.RetryMax, time.Second)
	set(&c.BreakerDelay, 5*time.Second)
	set(&c.BreakerWindow, 10*time.Second)
	if c.Retries == 0 {
		c.Retries = 2
	}
	if c.BreakerRate == 0 {
		c.BreakerRate = 0.5
	}
	if c.BreakerMinCalls == 0 {
		c.BreakerMinCalls = 20
	}
}

// Validate reports settings that cannot work, after defaults.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: payment: "+format, append([]any{natsfn.ErrConfig}, args...)...))
	}
	if c.CallTimeout <= 0 || c.BreakerWindow <= 0 || c.BreakerDelay <= 0 {
		bad("call timeout, breaker window and breaker delay must be positive")
	}
	if c.Retries < 0 {
		bad("retries %d: must not be negative", c.Retries)
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		bad("retry backoff %s..%s: need 0 < min <= max", c.RetryMin, c.RetryMax)
	}
	if c.BreakerRate <= 0 || c.BreakerRate > 1 {
		bad("breaker rate %v: must be in (0, 1]", c.BreakerRate)
	}
	return errors.Join(errs...)
}

// Stream keeps payment's events.
const Stream = "PAYMENT"

type payments struct {
	breaker circuitbreaker.CircuitBreaker[any]
	charge  failsafe.Executor[schemas.ChargeResult]
	refund  failsafe.Executor[schemas.RefundResult]
}

// Service returns the payment function service. Its circuit breaker is per
// replica, like the connection pool of a real client.
func Service(cfg Config) (natsfn.Service, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return natsfn.Service{}, err
	}
	transient := func(_ any, err error) bool { return err != nil && providerTransient(err) }
	breaker := circuitbreaker.NewBuilder[any]().
		HandleIf(transient).
		WithFailureRateThreshold(cfg.BreakerRate, cfg.BreakerMinCalls, cfg.BreakerWindow).
		WithDelay(cfg.BreakerDelay).
		Build()
	p := &payments{
		breaker: breaker,
		charge:  executor[schemas.ChargeResult](cfg, breaker),
		refund:  executor[schemas.RefundResult](cfg, breaker),
	}
	return natsfn.Service{
		Name:        "payment",
		Version:     "1.0.0",
		Description: "Charges reserved orders and refunds cancelled ones",
		Streams:     []natsfn.Stream{{Name: Stream, Subjects: []string{"payment.*.*"}}},
		Functions: []*natsfn.Function{
			natsfn.Func(natsfn.FuncConfig{Name: "charge", Description: "charges an order whose stock is reserved",
				On: []string{schemas.EventStockReserved}, Idempotent: true, Stats: p.stats,
				Emits: []string{schemas.EventPaymentCharged, schemas.EventPaymentFailed},
				Calls: []string{schemas.SubjectCharge}}, p.chargeOrder),
			natsfn.Func(natsfn.FuncConfig{Name: "refund", Description: "refunds a cancelled order if it was charged",
				On: []string{schemas.EventOrderCancelled}, Idempotent: true, Stats: p.stats,
				Emits: []string{schemas.EventPaymentRefunded}, Calls: []string{schemas.SubjectRefund}}, p.refundOrder),
		},
	}, nil
}

// executor composes, outermost first: retry, circuit breaker, timeout.
func executor[R any](cfg Config, breaker circuitbreaker.CircuitBreaker[any]) failsafe.Executor[R] {
	retry := retrypolicy.NewBuilder[R]().
		HandleIf(func(_ R, err error) bool { return err != nil && providerTransient(err) }).
		WithMaxRetries(cfg.Retries).
		WithBackoff(cfg.RetryMin, cfg.RetryMax).
		WithJitterFactor(0.25).
		ReturnLastFailure().
		Build()
	return failsafe.With[R](retry).ComposeAny(breaker).Compose(timeout.New[R](cfg.CallTimeout))
}

// stats puts the breaker's state in `nats micro stats` and /metrics.
func (p *payments) stats() map[string]any {
	return map[string]any{
		"circuit":          p.breaker.State().String(),
		"circuit_state":    breakerStateValue(p.breaker.State()),
		"circuit_failures": p.breaker.Metrics().Failures(),
	}
}

// breakerStateValue is the state as a gauge: 0 closed, 1 half-open, 2 open.
func breakerStateValue(s circuitbreaker.State) int {
	switch s {
	case circuitbreaker.OpenState:
		return 2
	case circuitbreaker.HalfOpenState:
		return 1
	}
	return 0
}
