package inventory

import (
	"context"
	"fmt"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// commit turns a confirmed order's held stock into sold stock: its holds
// are deleted (marked committed); the products' stock does not change, it
// left "available" when it was held.
func (inv *inventory) commit(ctx context.Context, in schemas.OrderConfirmedV1) (struct{}, error) {
	return struct{}{}, inv.settle(ctx, in.OrderID, in.Items, settledCommitted)
}

// release gives a cancelled order's held stock back. An item it never held
// gets a marker instead, so a reservation still under way finds the order
// cancelled and gives back what it takes.
func (inv *inventory) release(ctx context.Context, in schemas.OrderCancelledV1) (struct{}, error) {
	if err := inv.settle(ctx, in.OrderID, in.Items, settledReleased); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, runtime.Emit(ctx, schemas.EventStockReleased, schemas.StockReleasedV1{OrderID: in.OrderID}, runtime.WithEventID(in.OrderID))
}

// settle ends an order's holds, item by item: for a release, the stock goes
// back first (with a message id: a redelivery after a crash between the two
// writes gives nothing back twice), then the hold is deleted.
func (inv *inventory) settle(ctx context.Context, orderID string, items []schemas.OrderItem, how string) error {
	if len(items) == 0 {
		return runtime.Invalid(fmt.Sprintf("order %s: the event names no items (published by an older natsfn)", orderID))
	}
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return err
	}
	items = merged(items)
	if how == settledReleased {
		unlock, err := lockProducts(ctx, kv, items)
		if err != nil {
			return err
		}
		defer unlock()
	}
	for _, it := range items {
		key := holdKey(it.ProductID, orderID)
		for {
			s, err := readKey(ctx, kv, key)
			if err != nil {
				return err
			}
			if s.settled != "" {
				break // done before
			}
			if !s.live() {
				if how != settledReleased {
					break // never held: nothing to commit
				}
				err = runtime.DeleteKey(ctx, kv, key, 0, inv.cfg.KeepSettled, settledVoid)
			} else {
				if how == settledReleased {
					h, err := decode[hold](s, key)
					if err != nil {
						return err
					}
					if err := giveBack(ctx, kv, orderID, schemas.OrderItem{ProductID: it.ProductID, Quantity: int(h.Quantity)}, "release"); err != nil {
						return err
					}
				}
				err = runtime.DeleteKey(ctx, kv, key, s.rev, inv.cfg.KeepSettled, how)
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
	runtime.Logger(ctx).Info().Str("order_id", orderID).Str("stock", how).Msg("stock settled")
	return nil
}
