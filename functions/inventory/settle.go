package inventory

import (
	"context"
	"fmt"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// commit turns a confirmed order's held stock into sold stock: its holds
// are deleted (marked committed); the products' stock does not change, it
// left "available" when it was held. No read first: a confirmed order held
// every item (it was reserved before it was charged), nothing else ends
// its holds (release is for cancelled orders), and marking a hold
// committed again changes nothing.
func (inv *inventory) commit(ctx context.Context, in schemas.OrderConfirmedV1) (struct{}, error) {
	if len(in.Items) == 0 {
		return struct{}{}, noItems(in.OrderID)
	}
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	for _, it := range merged(in.Items) {
		if err := runtime.DeleteKey(ctx, kv, holdKey(it.ProductID, in.OrderID), runtime.AnyRevision, inv.cfg.KeepSettled, settledCommitted); err != nil {
			return struct{}{}, err
		}
	}
	runtime.Logger(ctx).Info().Str("order_id", in.OrderID).Str("stock", settledCommitted).Msg("stock settled")
	return struct{}{}, nil
}

// release gives a cancelled order's held stock back. An item it never held
// gets a marker instead, so a reservation still under way finds the order
// cancelled and gives back what it takes.
func (inv *inventory) release(ctx context.Context, in schemas.OrderCancelledV1) (struct{}, error) {
	if err := inv.settle(ctx, in.OrderID, in.Items); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, runtime.Emit(ctx, schemas.EventStockReleased, schemas.StockReleasedV1{OrderID: in.OrderID}, runtime.WithEventID(in.OrderID))
}

// settle ends a cancelled order's holds, item by item: the stock goes back
// first (with a message id: a redelivery after a crash between the two
// writes gives nothing back twice), then the hold is deleted.
func (inv *inventory) settle(ctx context.Context, orderID string, items []schemas.OrderItem) error {
	if len(items) == 0 {
		return noItems(orderID)
	}
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return err
	}
	items = merged(items)
	for _, it := range items {
		key := holdKey(it.ProductID, orderID)
		for {
			s, err := readKey(ctx, kv, key)
			if err != nil {
				return err
			}
			if s.settled == settledVoid {
				// Marked by an earlier delivery, which may have stopped
				// before it neutralized: repeating it changes nothing.
				if err := inv.neutralize(ctx, kv, orderID, it); err != nil {
					return err
				}
				break
			}
			if s.settled != "" {
				break // done before
			}
			if !s.live() {
				// Cancelled before any hold: the marker stops a reservation
				// still under way, and what such a reservation may have
				// taken (a crash between its take and its hold, redelivered
				// only after the deadline, when it no longer reserves) is
				// neutralized here: the take is repeated (dropped if it was
				// made) and given back once, with the ids reserve uses.
				err = runtime.DeleteKey(ctx, kv, key, 0, inv.cfg.KeepSettled, settledVoid)
				if err == nil {
					err = inv.neutralize(ctx, kv, orderID, it)
				}
			} else {
				h, err := decode[hold](s, key)
				if err != nil {
					return err
				}
				if err := inv.giveBack(ctx, kv, orderID, schemas.OrderItem{ProductID: it.ProductID, Quantity: int(h.Quantity)}, "release"); err != nil {
					return err
				}
				err = runtime.DeleteKey(ctx, kv, key, s.rev, inv.cfg.KeepSettled, settledReleased)
			}
			if runtime.IsConflict(err) {
				continue // a reservation wrote the hold meanwhile: read again
			}
			if err != nil {
				return err
			}
			break
		}
	}
	runtime.Logger(ctx).Info().Str("order_id", orderID).Str("stock", settledReleased).Msg("stock settled")
	return nil
}

func noItems(orderID string) error {
	return runtime.Invalid(fmt.Sprintf("order %s: the event names no items (published by an older natsfn)", orderID))
}
