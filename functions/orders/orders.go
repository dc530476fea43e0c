// Package orders owns the orders: it accepts them, answers for them, and
// moves each to exactly one terminal state, confirmed or cancelled, as the
// other steps report back. It never reads another service's data.
//
// An order's record lives in the ORDERS stream, which this service owns,
// beside the order's events, on the subject order.<id>, and its deadline
// on order.<id>.timeout: a message the server publishes as
// orders.expired.v1 when the order is due, unless settling the order
// purged it first, so no sweeper looks for stalled orders. Accepting an
// order writes the deadline, then the record (compare-and-set), then
// orders.created; settling it writes the record (compare-and-set), purges
// the deadline and announces the outcome: each write is one a redelivery
// can repeat or finish.
package orders

import (
	"fmt"
	"time"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Stream keeps the orders' records and deadlines beside their events.
const Stream = "ORDERS"

func recordSubject(id string) string   { return "order." + id }
func deadlineSubject(id string) string { return "order." + id + ".timeout" }

// Config tunes the orders service.
type Config struct {
	// Timeout is how long an order may stay pending before it is cancelled;
	// default 2m. It catches flows that stall (a crash-looping step, an
	// event in the dead-letter stream).
	Timeout time.Duration
}

// SetDefaults fills the zero values.
func (c *Config) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Minute
	}
}

// Validate reports settings that cannot work, after defaults.
func (c *Config) Validate() error {
	if c.Timeout < time.Second {
		return fmt.Errorf("%w: orders: timeout %s: must be at least 1s", natsfn.ErrConfig, c.Timeout)
	}
	return nil
}

// Service returns the orders function service.
func Service(cfg Config) (natsfn.Service, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return natsfn.Service{}, err
	}
	settles := []string{schemas.EventOrderConfirmed, schemas.EventOrderCancelled}
	records := []string{"order.>"}
	return natsfn.Service{
		Name:        "orders",
		Version:     "1.0.0",
		Description: "Orders: accepts them and settles each in one terminal state",
		Streams: []natsfn.Stream{{Name: Stream, Subjects: []string{
			"orders.*.*", // events: <entity>.<event>.<version>; requests have two tokens
			"order.>",    // order.<id>: an order's record; order.<id>.timeout: its deadline
		}}},
		Functions: []*natsfn.Function{
			natsfn.Func(natsfn.FuncConfig{Name: "create", Subject: schemas.SubjectCreateOrder, Description: "accepts an order; it starts pending",
				Emits: []string{schemas.EventOrderCreated}, Writes: records}, create(cfg.Timeout)),
			natsfn.Func(natsfn.FuncConfig{Name: "get", Subject: schemas.SubjectGetOrder, Description: "one order and its status (a pending one with what its items cost now)",
				Calls: []string{schemas.SubjectQuote}}, get),
			natsfn.Func(natsfn.FuncConfig{Name: "confirm", Description: "confirms a paid order",
				On: []string{schemas.EventPaymentCharged}, Idempotent: true, Emits: settles, Writes: records}, confirm),
			natsfn.Func(natsfn.FuncConfig{Name: "reject", Description: "cancels an order whose stock could not be reserved",
				On: []string{schemas.EventStockRejected}, Idempotent: true, Emits: settles, Writes: records}, reject),
			natsfn.Func(natsfn.FuncConfig{Name: "unpaid", Description: "cancels an order whose payment failed",
				On: []string{schemas.EventPaymentFailed}, Idempotent: true, Emits: settles, Writes: records}, unpaid),
			natsfn.Func(natsfn.FuncConfig{Name: "expire", Description: "cancels an order still pending at its deadline",
				On: []string{schemas.EventOrderExpired}, Idempotent: true, Emits: settles, Writes: records}, expire),
		},
	}, nil
}
