package inventory

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// reserve holds every item of a new order, or none, and says which.
//
// The reservation is recorded as "holding", with its items, before any
// stock is touched: whatever happens next (a crash between two items, the
// event dead-lettered, the order cancelled meanwhile), release knows what
// this order may hold and gives it back.
func reserve(ctx context.Context, in schemas.OrderCreatedV1) (struct{}, error) {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	items := merged(in.Items)
	prev, _, err := runtime.CreateOrGet(ctx, kv, reservationKey(in.OrderID), reservation{State: stateHolding, Items: items})
	if err != nil {
		return struct{}{}, err
	}
	switch prev.State {
	case stateHolding:
		// First delivery, or a redelivery after a crash mid-way: holds
		// already taken are kept (hold is idempotent per order).
	case stateReleased:
		// Cancelled while (or before) an earlier delivery held stock.
		return struct{}{}, unholdAll(ctx, kv, in.OrderID, items)
	default:
		// Decided before: say it again rather than decide twice.
		return struct{}{}, announce(ctx, in, prev)
	}

	var total int64
	for _, it := range items {
		price, err := hold(ctx, kv, it.ProductID, in.OrderID, int64(it.Quantity))
		if rej, ok := asRejection(err); ok {
			// All or nothing: give back what this order holds so far.
			if err := unholdAll(ctx, kv, in.OrderID, items); err != nil {
				return struct{}{}, err
			}
			return struct{}{}, decide(ctx, kv, in, reservation{State: stateRejected, ProductID: rej.productID, Reason: rej.reason})
		}
		if err != nil {
			return struct{}{}, err // transient: the runtime retries
		}
		total += price * int64(it.Quantity)
	}
	return struct{}{}, decide(ctx, kv, in, reservation{State: stateReserved, Items: items, TotalCents: total})
}

// decide moves the reservation from holding to its outcome and announces
// whichever outcome is stored. A release that came first wins: then the
// stock this delivery held goes back.
func decide(ctx context.Context, kv jetstream.KeyValue, in schemas.OrderCreatedV1, r reservation) error {
	stored, err := runtime.Mutate(ctx, kv, reservationKey(in.OrderID), func(cur *reservation, exists bool) error {
		if exists && cur.State != stateHolding {
			return runtime.ErrNoChange
		}
		*cur = r
		return nil
	})
	if err != nil {
		return err
	}
	if stored.State == stateReleased {
		return unholdAll(ctx, kv, in.OrderID, in.Items)
	}
	return announce(ctx, in, stored)
}

func announce(ctx context.Context, in schemas.OrderCreatedV1, r reservation) error {
	runtime.Logger(ctx).Info().Str("order_id", in.OrderID).Str("stock", r.State).Str("reason", r.Reason).Msg("stock decision")
	id := runtime.WithEventID(in.OrderID)
	switch r.State {
	case stateRejected:
		return runtime.Emit(ctx, schemas.EventStockRejected, schemas.StockRejectedV1{OrderID: in.OrderID, ProductID: r.ProductID, Reason: r.Reason}, id)
	case stateReserved, stateCommitted:
		return runtime.Emit(ctx, schemas.EventStockReserved, schemas.StockReservedV1{OrderID: in.OrderID, TotalCents: r.TotalCents, PaymentToken: in.PaymentToken}, id)
	}
	return nil // released: the order is already cancelled
}

// unholdAll gives back whatever the order holds of these items.
func unholdAll(ctx context.Context, kv jetstream.KeyValue, orderID string, items []schemas.OrderItem) error {
	for _, it := range merged(items) {
		if err := unhold(ctx, kv, it.ProductID, orderID, false); err != nil {
			return err
		}
	}
	return nil
}
