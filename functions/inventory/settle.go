package inventory

import (
	"context"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// commit turns a confirmed order's held stock into sold stock.
func commit(ctx context.Context, in schemas.OrderConfirmedV1) (struct{}, error) {
	return struct{}{}, settle(ctx, in.OrderID, stateCommitted)
}

// release gives a cancelled order's held stock back. If the order was
// cancelled before it was ever reserved, the tombstone stops a late
// reservation from holding stock for it; if reserve is holding stock right
// now, the stock it held so far comes back here and the rest in reserve.
func release(ctx context.Context, in schemas.OrderCancelledV1) (struct{}, error) {
	if err := settle(ctx, in.OrderID, stateReleased); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, runtime.Emit(ctx, schemas.EventStockReleased, schemas.StockReleasedV1{OrderID: in.OrderID}, runtime.WithEventID(in.OrderID))
}

func settle(ctx context.Context, orderID, final string) error {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return err
	}
	var items []schemas.OrderItem
	_, err = runtime.Mutate(ctx, kv, reservationKey(orderID), func(r *reservation, exists bool) error {
		switch {
		case !exists && final == stateReleased:
			*r = reservation{State: stateReleased}
			return nil
		case !exists, r.State == stateRejected:
			return runtime.ErrNoChange
		case r.State == final:
			items = r.Items // a retry after a crash mid-way: finish the holds
			return runtime.ErrNoChange
		case r.State == stateHolding && final == stateReleased:
			// Cancelled while reserve holds stock: give back whatever it
			// took; reserve gives back what it takes after this.
		case r.State != stateReserved:
			return runtime.Conflict("order %s: stock already %s, cannot be %s", orderID, r.State, final)
		}
		items = r.Items
		r.State = final
		return nil
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := unhold(ctx, kv, it.ProductID, orderID, final == stateCommitted); err != nil {
			return err
		}
	}
	runtime.Logger(ctx).Info().Str("order_id", orderID).Str("stock", final).Msg("stock settled")
	return nil
}
