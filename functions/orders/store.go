package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// record is an order as stored: the public view plus what only the saga needs.
type record struct {
	schemas.Order
	Token         string `json:"payment_token"`
	CorrelationID string `json:"correlation_id,omitempty"` // so a timeout is logged under the order's id too
}

func orderKey(id string) string   { return "order." + id }
func pendingKey(id string) string { return "pending." + id }

// transition moves a pending order to a terminal status, applying also in
// the same write. Exactly one transition wins; the others find the order
// settled and change nothing. It reports whether this call settled it, and
// the order as stored.
//
// The record returned is the one written, or one already terminal: never a
// fresh read after our own write. KV reads may be served by a replica that
// lags behind (direct get), and a stale "pending" must not decide anything.
func transition(ctx context.Context, kv jetstream.KeyValue, orderID, status, reason string, also func(*record)) (bool, record, error) {
	won := false
	rec, err := runtime.Mutate(ctx, kv, orderKey(orderID), func(r *record, exists bool) error {
		won = false // a retry after a conflict starts over
		if !exists {
			return runtime.NotFound("no order %s", orderID)
		}
		if r.Status != schemas.StatusPending {
			return runtime.ErrNoChange
		}
		r.Status, r.Reason, r.UpdatedAt = status, reason, time.Now().UTC()
		if also != nil {
			also(r)
		}
		won = true
		return nil
	})
	if err != nil {
		return false, rec, err
	}
	if err := kv.Delete(ctx, pendingKey(orderID)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return won, rec, fmt.Errorf("clear pending mark: %w", err)
	}
	return won, rec, nil
}

// settled announces an order's terminal state. The event id is the order
// id, so however often it is announced, the stream keeps one.
func settled(ctx context.Context, rec record) error {
	id := runtime.WithEventID(rec.OrderID)
	switch rec.Status {
	case schemas.StatusConfirmed:
		return runtime.Emit(ctx, schemas.EventOrderConfirmed, schemas.OrderConfirmedV1{OrderID: rec.OrderID, TotalCents: rec.TotalCents}, id)
	case schemas.StatusCancelled:
		return runtime.Emit(ctx, schemas.EventOrderCancelled, schemas.OrderCancelledV1{OrderID: rec.OrderID, Reason: rec.Reason}, id)
	}
	return nil
}
