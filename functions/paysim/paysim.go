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
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Config is the simulated provider's behaviour.
type Config struct {
	Latency     time.Duration // added to every charge and refund
	FailureRate float64       // share of calls that fail transiently, 0..1
}

// Provider is the simulated bank's state.
type Provider struct {
	mu       sync.Mutex
	cfg      Config
	attempts map[string]int          // order -> charge calls (for tok_flaky)
	charges  map[string]chargeRecord // order -> the one successful charge
	counts   map[string]int          // order -> successful charges (must stay 1)
	refunds  map[string]int
}

type chargeRecord struct {
	id     string
	amount int64
}

// New returns a provider with the given behaviour.
func New(cfg Config) *Provider {
	return &Provider{cfg: cfg, attempts: map[string]int{}, charges: map[string]chargeRecord{},
		counts: map[string]int{}, refunds: map[string]int{}}
}

// SetBehaviour changes latency and failure rate while running (chaos tests
// open the payment circuit breaker this way).
func (p *Provider) SetBehaviour(cfg Config) {
	p.mu.Lock()
	p.cfg = cfg
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
		return runtime.Unavailable("provider busy, try again")
	}
	return nil
}

// Charge takes an order's money once.
func (p *Provider) Charge(ctx context.Context, in schemas.Charge) (schemas.ChargeResult, error) {
	if err := p.wait(ctx); err != nil {
		return schemas.ChargeResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts[in.OrderID]++
	if c, ok := p.charges[in.OrderID]; ok {
		return schemas.ChargeResult{ChargeID: c.id}, nil // idempotent: the same charge again
	}
	switch in.Token {
	case "tok_decline":
		return schemas.ChargeResult{}, runtime.Rule("card declined (%s)", in.Token)
	case "tok_flaky":
		if p.attempts[in.OrderID] <= 2 {
			return schemas.ChargeResult{}, runtime.Unavailable("card network timeout, try again")
		}
	case "tok_visa":
	default:
		return schemas.ChargeResult{}, runtime.Rule("unknown sandbox token %s", in.Token)
	}
	c := chargeRecord{id: "ch_" + nuid.Next(), amount: in.AmountCents}
	p.charges[in.OrderID] = c
	p.counts[in.OrderID]++
	return schemas.ChargeResult{ChargeID: c.id}, nil
}

// Refund gives an order's money back, once.
func (p *Provider) Refund(ctx context.Context, in schemas.Refund) (schemas.RefundResult, error) {
	if err := p.wait(ctx); err != nil {
		return schemas.RefundResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.charges[in.OrderID]
	if !ok || p.refunds[in.OrderID] > 0 {
		return schemas.RefundResult{Refunded: false}, nil
	}
	p.refunds[in.OrderID]++
	return schemas.RefundResult{Refunded: true, AmountCents: c.amount}, nil
}

func (p *Provider) simulate(_ context.Context, in schemas.Simulate) (schemas.Simulate, error) {
	p.SetBehaviour(Config{Latency: time.Duration(in.LatencyMS) * time.Millisecond, FailureRate: in.FailureRate})
	return in, nil
}

// Counts reports successful charges and refunds per order.
func (p *Provider) Counts(context.Context, schemas.ChargeCounts) (schemas.ChargeCountsResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := schemas.ChargeCountsResult{Charges: map[string]int{}, Refunds: map[string]int{}}
	for k, v := range p.counts {
		out.Charges[k] = v
	}
	for k, v := range p.refunds {
		out.Refunds[k] = v
	}
	return out, nil
}

// Service serves the provider over NATS.
func (p *Provider) Service() runtime.Service {
	return runtime.Service{
		Name:        "paysim",
		Version:     "1.0.0",
		Description: "Payment provider simulator (sandbox tokens tok_visa, tok_decline, tok_flaky)",
		Functions: []*runtime.Function{
			runtime.Func(runtime.FuncConfig{Name: "charge", Subject: schemas.SubjectCharge}, p.Charge),
			runtime.Func(runtime.FuncConfig{Name: "refund", Subject: schemas.SubjectRefund}, p.Refund),
			runtime.Func(runtime.FuncConfig{Name: "charges", Subject: schemas.SubjectCharges}, p.Counts),
			runtime.Func(runtime.FuncConfig{Name: "simulate", Subject: schemas.SubjectSimulate, Description: "sets latency and failure rate"}, p.simulate),
		},
	}
}
