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
// gets a marker instead, so a reservation delivered late cannot hold stock
// for a cancelled order.
func (inv *inventory) release(ctx context.Context, in schemas.OrderCancelledV1) (struct{}, error) {
	if err := inv.settle(ctx, in.OrderID, in.Items, settledReleased); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, runtime.Emit(ctx, schemas.EventStockReleased, schemas.StockReleasedV1{OrderID: in.OrderID}, runtime.WithEventID(in.OrderID))
}

// settle ends an order's holds in one atomic batch.
func (inv *inventory) settle(ctx context.Context, orderID string, items []schemas.OrderItem, how string) error {
	if len(items) == 0 {
		return runtime.Invalid(fmt.Sprintf("order %s: the event names no items (published by an older natsfn)", orderID))
	}
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return err
	}
	items = merged(items)
	var productKeys []string
	if how == settledReleased {
		for _, it := range items {
			productKeys = append(productKeys, productKey(it.ProductID))
		}
	}
	unlock, err := runtime.LockKeys(ctx, kv, productKeys...)
	if err != nil {
		return err
	}
	defer unlock()
	for {
		b := runtime.NewBatch(ctx)
		for _, it := range items {
			key := holdKey(it.ProductID, orderID)
			s, err := readKey(ctx, kv, key)
			if err != nil {
				return err
			}
			switch {
			case s.settled != "":
				continue // done before
			case !s.live():
				if how == settledReleased {
					b.DeleteKey(kv, key, 0, inv.cfg.KeepSettled, settledReleased)
				}
				continue
			}
			b.DeleteKey(kv, key, s.rev, inv.cfg.KeepSettled, how)
			if how != settledReleased {
				continue
			}
			h, err := decode[hold](s, key)
			if err != nil {
				return err
			}
			ps, err := readKey(ctx, kv, productKey(it.ProductID))
			if err != nil {
				return err
			}
			p, err := decode[product](ps, productKey(it.ProductID))
			if err != nil {
				return err
			}
			p.Available += h.Quantity
			b.PutKey(kv, productKey(it.ProductID), p, ps.rev)
		}
		err := b.Commit()
		if runtime.IsConflict(err) {
			continue
		}
		if err == nil {
			runtime.Logger(ctx).Info().Str("order_id", orderID).Str("stock", how).Msg("stock settled")
		}
		return err
	}
}
