package orders

import (
	"context"
	"time"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// record is an order as stored: the public view plus what only the saga needs.
type record struct {
	schemas.Order
	Token         string    `json:"payment_token"`
	CorrelationID string    `json:"correlation_id,omitempty"` // so an expiry is logged under the order's id too
	BodyHash      string    `json:"body_hash,omitempty"`      // of the body sent with an Idempotency-Key
	ExpiresAt     time.Time `json:"expires_at"`
}

// transition moves a pending order to a terminal status, applying also in
// the same write. Exactly one transition wins (compare-and-set on the
// record's sequence); the others find the order settled and change nothing.
// It reports whether this call settled it, and the order as stored. The
// caller announces the outcome; if it crashes first, the redelivery finds
// the order settled and announces it then.
func transition(ctx context.Context, orderID, status, reason string, also func(*record)) (bool, record, error) {
	for {
		rec, seq, err := natsfn.Record[record](ctx, Stream, recordSubject(orderID))
		if err != nil {
			return false, rec, err
		}
		if rec.Status != schemas.StatusPending {
			return false, rec, nil
		}
		rec.Status, rec.Reason, rec.UpdatedAt = status, reason, time.Now().UTC()
		if also != nil {
			also(&rec)
		}
		_, err = natsfn.Put(ctx, recordSubject(orderID), rec, seq)
		if natsfn.IsConflict(err) {
			continue // settled or changed meanwhile: read again
		}
		if err != nil {
			return false, rec, err
		}
		// The deadline has nothing left to do. Should this fail, it fires
		// later and finds the order settled.
		if err := natsfn.PurgeSchedule(ctx, Stream, deadlineSubject(orderID)); err != nil {
			natsfn.Logger(ctx).Warn().AnErr("cause", err).Str("order_id", orderID).Msg("cannot cancel the order's deadline")
		}
		return true, rec, nil
	}
}

// announce emits an order's terminal state. The event id is the order id,
// so however often it is announced, the stream keeps one.
func announce(ctx context.Context, rec record) error {
	switch rec.Status {
	case schemas.StatusConfirmed:
		return natsfn.Emit(ctx, schemas.EventOrderConfirmed, rec.OrderID, schemas.OrderConfirmedV1{OrderID: rec.OrderID, TotalCents: rec.TotalCents, Items: rec.Items})
	case schemas.StatusCancelled:
		return natsfn.Emit(ctx, schemas.EventOrderCancelled, rec.OrderID, schemas.OrderCancelledV1{OrderID: rec.OrderID, Reason: rec.Reason, Items: rec.Items})
	}
	return nil
}
