// Package paysim is a payment provider simulator, served as its own NATS
// service so every payment replica talks to the same "bank", as it would to
// a real one. Sandbox tokens: tok_visa succeeds, tok_decline is declined,
// tok_flaky fails transiently twice per order and then succeeds. Latency
// and a random transient failure rate are configurable, for load and chaos
// tests. Charges are idempotent per order and counted, so tests can prove
// that no order was charged twice.
package paysim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Config is the simulated provider's behaviour.
type Config struct {
	Latency     time.Duration // added to every charge and refund
	FailureRate float64       // share of calls that fail transiently, 0..1
	// Retain is how long the provider remembers an order (its idempotency
	// window, 24h at Stripe); default 10m. Memory stays flat however many
	// orders go through.
	Retain time.Duration
}

// Provider is the simulated bank's state.
type Provider struct {
	mu        sync.Mutex
	cfg       Config
	orders    map[string]*account // what the bank knows of each order it saw
	lastSweep time.Time
}

// account is one order at the bank.
type account struct {
	seen     time.Time
	attempts int    // charge calls (for tok_flaky)
	chargeID string // the one successful charge
	amount   int64
	charges  int  // successful charges (must stay at most 1)
	refunds  int  // successful refunds (at most 1)
	voided   bool // cancelled before it was charged: never charge it
}

// SetDefaults fills the zero values.
func (c *Config) SetDefaults() {
	if c.Retain == 0 {
		c.Retain = 10 * time.Minute
	}
}

// Validate reports settings that cannot work, after defaults.
func (c *Config) Validate() error {
	if c.Latency < 0 || c.Retain <= 0 || c.FailureRate < 0 || c.FailureRate > 1 {
		return fmt.Errorf("%w: paysim: latency and retain must not be negative, failure rate in [0, 1]", natsfn.ErrConfig)
	}
	return nil
}

// New returns a provider with the given behaviour.
func New(cfg Config) (*Provider, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg, orders: map[string]*account{}}, nil
}

// account finds or opens an order's account, forgetting those older than
// Retain now and then. Callers hold p.mu.
func (p *Provider) account(orderID string) *account {
	now := time.Now()
	if now.Sub(p.lastSweep) > time.Second {
		p.lastSweep = now
		for id, a := range p.orders {
			if now.Sub(a.seen) > p.cfg.Retain {
				delete(p.orders, id)
			}
		}
	}
	a, ok := p.orders[orderID]
	if !ok {
		a = &account{}
		p.orders[orderID] = a
	}
	a.seen = now
	return a
}

// SetBehaviour changes latency and failure rate while running (chaos tests
// open the payment circuit breaker this way).
func (p *Provider) SetBehaviour(cfg Config) {
	p.mu.Lock()
	p.cfg.Latency, p.cfg.FailureRate = cfg.Latency, cfg.FailureRate
	p.mu.Unlock()
}

func (p *Provider) behaviour() Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg
}

// wait simulates the provider's latency, and its transient failures.
func (p *Provider) wait(ctx context.Context) error {
	cfg := p.behaviour()
	if cfg.Latency > 0 {
		select {
		case <-time.After(cfg.Latency):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if cfg.FailureRate > 0 && rand.Float64() < cfg.FailureRate {
		return natsfn.Unavailable("provider busy, try again")
	}
	return nil
}

// Charge takes an order's money once: a repeat gets the same charge.
func (p *Provider) Charge(ctx context.Context, in schemas.Charge) (schemas.ChargeResult, error) {
	if err := p.wait(ctx); err != nil {
		return schemas.ChargeResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.account(in.OrderID)
	a.attempts++
	switch {
	case a.chargeID != "":
		return schemas.ChargeResult{ChargeID: a.chargeID}, nil // idempotent: the same charge again
	case a.voided:
		return schemas.ChargeResult{}, natsfn.Rule("order %s was voided: it was cancelled before it was charged", in.OrderID)
	}
	switch in.Token {
	case "tok_decline":
		return schemas.ChargeResult{}, natsfn.Rule("card declined (%s)", in.Token)
	case "tok_flaky":
		if a.attempts <= 2 {
			return schemas.ChargeResult{}, natsfn.Unavailable("card network timeout, try again")
		}
	case "tok_visa":
	default:
		return schemas.ChargeResult{}, natsfn.Rule("unknown sandbox token %s", in.Token)
	}
	a.chargeID, a.amount = "ch_"+nuid.Next(), in.AmountCents
	a.charges++
	return schemas.ChargeResult{ChargeID: a.chargeID}, nil
}

// Refund gives a charged order's money back, once (a repeat answers the
// same), and voids an order never charged so it never will be.
func (p *Provider) Refund(ctx context.Context, in schemas.Refund) (schemas.RefundResult, error) {
	if err := p.wait(ctx); err != nil {
		return schemas.RefundResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.account(in.OrderID)
	if a.chargeID == "" {
		a.voided = true
		return schemas.RefundResult{Refunded: false}, nil
	}
	if a.refunds == 0 {
		a.refunds++
	}
	return schemas.RefundResult{Refunded: true, AmountCents: a.amount}, nil
}

func (p *Provider) simulate(_ context.Context, in schemas.Simulate) (schemas.Simulate, error) {
	p.SetBehaviour(Config{Latency: time.Duration(in.LatencyMS) * time.Millisecond, FailureRate: in.FailureRate})
	return in, nil
}

// Counts reports successful charges and refunds per order it remembers.
func (p *Provider) Counts(context.Context, schemas.ChargeCounts) (schemas.ChargeCountsResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := schemas.ChargeCountsResult{Charges: map[string]int{}, Refunds: map[string]int{}}
	for id, a := range p.orders {
		if a.charges > 0 {
			out.Charges[id] = a.charges
		}
		if a.refunds > 0 {
			out.Refunds[id] = a.refunds
		}
	}
	return out, nil
}

// Service serves the provider over NATS.
func (p *Provider) Service() natsfn.Service {
	return natsfn.Service{
		Name:        "paysim",
		Version:     "1.0.0",
		Description: "Payment provider simulator (sandbox tokens tok_visa, tok_decline, tok_flaky)",
		Functions: []*natsfn.Function{
			natsfn.Func(natsfn.FuncConfig{Name: "charge", Subject: schemas.SubjectCharge}, p.Charge),
			natsfn.Func(natsfn.FuncConfig{Name: "refund", Subject: schemas.SubjectRefund}, p.Refund),
			natsfn.Func(natsfn.FuncConfig{Name: "charges", Subject: schemas.SubjectCharges}, p.Counts),
			natsfn.Func(natsfn.FuncConfig{Name: "simulate", Subject: schemas.SubjectSimulate, Description: "sets latency and failure rate"}, p.simulate),
		},
	}
}
