package inventory

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// reserve holds every item of a new order, or none, and says which.
func reserve(ctx context.Context, in schemas.OrderCreatedV1) (struct{}, error) {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	// A decision taken before (a redelivery, or a cancel that came first)
	// is announced again rather than taken twice.
	if prev, err := runtime.GetJSON[reservation](ctx, kv, reservationKey(in.OrderID)); err == nil {
		return struct{}{}, announce(ctx, in, prev)
	} else if !errors.Is(err, runtime.ErrKeyNotFound) {
		return struct{}{}, err
	}

	items := merged(in.Items)
	var total int64
	for _, it := range items {
		err := hold(ctx, kv, it.ProductID, in.OrderID, int64(it.Quantity))
		if rej, ok := asRejection(err); ok {
			// All or nothing: give back what this order holds so far.
			for _, back := range items {
				if err := unhold(ctx, kv, back.ProductID, in.OrderID, false); err != nil {
					return struct{}{}, err
				}
			}
			return struct{}{}, decide(ctx, kv, in, reservation{State: stateRejected, ProductID: rej.productID, Reason: rej.reason})
		}
		if err != nil {
			return struct{}{}, err // transient: the runtime retries; holds already taken are kept
		}
		p, err := runtime.GetJSON[product](ctx, kv, productKey(it.ProductID))
		if err != nil {
			return struct{}{}, err
		}
		total += p.PriceCents * int64(it.Quantity)
	}
	return struct{}{}, decide(ctx, kv, in, reservation{State: stateReserved, Items: items, TotalCents: total})
}

// decide records the outcome once and announces whichever outcome won.
func decide(ctx context.Context, kv jetstream.KeyValue, in schemas.OrderCreatedV1, r reservation) error {
	stored, _, err := runtime.CreateOrGet(ctx, kv, reservationKey(in.OrderID), r)
	if err != nil {
		return err
	}
	if stored.State == stateReleased && r.State == stateReserved {
		// The order was cancelled while we held its stock: give it back.
		for _, it := range r.Items {
			if err := unhold(ctx, kv, it.ProductID, in.OrderID, false); err != nil {
				return err
			}
		}
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
