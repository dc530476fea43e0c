package orders

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// price records what the reserved stock costs.
func price(ctx context.Context, in schemas.StockReservedV1) (struct{}, error) {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	_, err = runtime.Mutate(ctx, kv, orderKey(in.OrderID), func(r *record, exists bool) error {
		if !exists || r.TotalCents == in.TotalCents {
			return runtime.ErrNoChange
		}
		r.TotalCents, r.UpdatedAt = in.TotalCents, time.Now().UTC()
		return nil
	})
	return struct{}{}, err
}

// confirm settles a paid order. A paid order that was cancelled meanwhile
// stays cancelled; payment refunds it on the cancellation.
func confirm(ctx context.Context, in schemas.PaymentChargedV1) (struct{}, error) {
	return struct{}{}, settle(ctx, in.OrderID, schemas.StatusConfirmed, "", func(r *record) { r.TotalCents = in.AmountCents })
}

func reject(ctx context.Context, in schemas.StockRejectedV1) (struct{}, error) {
	return struct{}{}, settle(ctx, in.OrderID, schemas.StatusCancelled, "stock: "+in.Reason, nil)
}

func unpaid(ctx context.Context, in schemas.PaymentFailedV1) (struct{}, error) {
	return struct{}{}, settle(ctx, in.OrderID, schemas.StatusCancelled, "payment: "+in.Reason, nil)
}

func settle(ctx context.Context, orderID, status, reason string, also func(*record)) error {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return err
	}
	won, rec, err := transition(ctx, kv, orderID, status, reason, also)
	if err != nil {
		return err
	}
	if won {
		runtime.Logger(ctx).Info().Str("order_id", orderID).Str("status", status).Str("reason", reason).Msg("order settled")
	}
	// Announce whatever the order ended as (also on a redelivery, so a lost
	// announcement is made good; the stream drops repeats).
	return settled(ctx, rec)
}

// expire cancels orders pending for longer than timeout: a step crashed
// for good, or its event went to the dead-letter stream.
func expire(timeout time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		kv, err := runtime.KV(ctx, Bucket)
		if err != nil {
			return err
		}
		keys, err := kv.ListKeysFiltered(ctx, pendingKey("*"))
		if err != nil {
			return err
		}
		for key := range keys.Keys() {
			orderID := strings.TrimPrefix(key, "pending.")
			rec, err := runtime.GetJSON[record](ctx, kv, orderKey(orderID))
			if err != nil || time.Since(rec.CreatedAt) < timeout {
				continue
			}
			won, rec, err := transition(ctx, kv, orderID, schemas.StatusCancelled,
				fmt.Sprintf("timed out: still pending after %s", timeout), nil)
			if err != nil {
				return err
			}
			octx := runtime.WithCorrelationID(ctx, rec.CorrelationID)
			if won {
				runtime.Logger(ctx).Warn().Str("order_id", orderID).Str("correlation_id", rec.CorrelationID).Msg("pending order expired; cancelled")
			}
			if err := settled(octx, rec); err != nil {
				return err
			}
		}
		return nil
	}
}
