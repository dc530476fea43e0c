// Package orders owns the orders: it accepts them, answers for them, and
// moves each to exactly one terminal state, confirmed or cancelled, as the
// other steps report back. It never reads another service's data.
package orders

import (
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Bucket is the orders' own key-value bucket.
const Bucket = "orders"

// Config tunes the orders service.
type Config struct {
	// Timeout is how long an order may stay pending before it is cancelled;
	// default 2m. It catches flows that stall (a crash-looping step, an
	// event in the dead-letter stream).
	Timeout time.Duration
	// SweepEvery is how often pending orders are checked; default Timeout/10.
	SweepEvery time.Duration
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = max(c.Timeout/10, 100*time.Millisecond)
	}
	return c
}

// Service returns the orders function service.
func Service(cfg Config) runtime.Service {
	cfg = cfg.withDefaults()
	return runtime.Service{
		Name:        "orders",
		Version:     "1.0.0",
		Description: "Orders: accepts them and settles each in one terminal state",
		Streams:     schemas.Streams(),
		Buckets:     []runtime.Bucket{{Name: Bucket}},
		Functions: []*runtime.Function{
			runtime.Func(runtime.FuncConfig{Name: "create", Subject: schemas.SubjectCreateOrder, Description: "accepts an order; it starts pending",
				Emits: []string{schemas.EventOrderCreated}}, create),
			runtime.Func(runtime.FuncConfig{Name: "get", Subject: schemas.SubjectGetOrder, Description: "one order and its status"}, get),
			runtime.Func(runtime.FuncConfig{Name: "price", Description: "records the total once stock is reserved",
				On: []string{schemas.EventStockReserved}, Idempotent: true}, price),
			runtime.Func(runtime.FuncConfig{Name: "confirm", Description: "confirms a paid order",
				On: []string{schemas.EventPaymentCharged}, Idempotent: true, Emits: []string{schemas.EventOrderConfirmed, schemas.EventOrderCancelled}}, confirm),
			runtime.Func(runtime.FuncConfig{Name: "reject", Description: "cancels an order whose stock could not be reserved",
				On: []string{schemas.EventStockRejected}, Idempotent: true, Emits: []string{schemas.EventOrderConfirmed, schemas.EventOrderCancelled}}, reject),
			runtime.Func(runtime.FuncConfig{Name: "unpaid", Description: "cancels an order whose payment failed",
				On: []string{schemas.EventPaymentFailed}, Idempotent: true, Emits: []string{schemas.EventOrderConfirmed, schemas.EventOrderCancelled}}, unpaid),
		},
		Jobs: []runtime.Job{{Name: "expire", Every: cfg.SweepEvery, Run: expire(cfg.Timeout)}},
	}
}
