package inventory

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
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
	kv, err := natsfn.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	for _, it := range merged(in.Items) {
		if err := natsfn.DeleteKey(ctx, kv, holdKey(it.ProductID, in.OrderID), natsfn.AnyRevision, inv.cfg.KeepSettled, settledCommitted); err != nil {
			return struct{}{}, err
		}
	}
	natsfn.Logger(ctx).Info().Str("order_id", in.OrderID).Str("stock", settledCommitted).Msg("stock settled")
	return struct{}{}, nil
}

// release gives a cancelled order's held stock back. An item it never held
// gets a marker instead, so a reservation still under way finds the order
// cancelled and gives back what it takes.
func (inv *inventory) release(ctx context.Context, in schemas.OrderCancelledV1) (struct{}, error) {
	if err := inv.settle(ctx, in.OrderID, in.Items); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, natsfn.Emit(ctx, schemas.EventStockReleased, in.OrderID, schemas.StockReleasedV1{OrderID: in.OrderID})
}

// settle ends a cancelled order's holds, item by item.
func (inv *inventory) settle(ctx context.Context, orderID string, items []schemas.OrderItem) error {
	if len(items) == 0 {
		return noItems(orderID)
	}
	kv, err := natsfn.KV(ctx, Bucket)
	if err != nil {
		return err
	}
	items = merged(items)
	for _, it := range items {
		if err := inv.releaseItem(ctx, kv, orderID, it); err != nil {
			return err
		}
	}
	natsfn.Logger(ctx).Info().Str("order_id", orderID).Str("stock", settledReleased).Msg("stock settled")
	return nil
}

func noItems(orderID string) error {
	return natsfn.Invalid(fmt.Sprintf("order %s: the event names no items (published by an older natsfn)", orderID))
}

// releaseItem ends a cancelled order's hold on one item. A live hold: its
// stock goes back first (an open release in the product record, so a
// redelivery after a crash between the two writes gives nothing back
// twice), then the hold is deleted, marked released. No hold: a void marker
// stops a reservation still under way, and an open take (a reservation
// that took stock and had not written its hold) is given back.
func (inv *inventory) releaseItem(ctx context.Context, kv jetstream.KeyValue, orderID string, it schemas.OrderItem) error {
	key := holdKey(it.ProductID, orderID)
	for {
		s, err := readKey(ctx, kv, key)
		if err != nil {
			return err
		}
		switch {
		case s.settled == settledVoid:
			// Marked by an earlier delivery, which may have stopped before
			// it gave back an open take.
			return inv.stock.untake(ctx, kv, orderID, it.ProductID)
		case s.settled == settledReleased:
			inv.stock.backed(it.ProductID, orderID, opRelease)
			return nil
		case s.settled != "":
			return nil // rejected: reserve gives back what it took
		case !s.live():
			err = natsfn.DeleteKey(ctx, kv, key, 0, inv.cfg.KeepSettled, settledVoid)
			if err == nil {
				return inv.stock.untake(ctx, kv, orderID, it.ProductID)
			}
		default:
			h, err := decode[hold](s, key)
			if err != nil {
				return err
			}
			if err := inv.stock.giveBack(ctx, kv, orderID, it.ProductID, h.Quantity); err != nil {
				return err
			}
			err = natsfn.DeleteKey(ctx, kv, key, s.rev, inv.cfg.KeepSettled, settledReleased)
			if err == nil {
				inv.stock.backed(it.ProductID, orderID, opRelease)
				return nil
			}
			if !natsfn.IsConflict(err) {
				return err
			}
			continue
		}
		if !natsfn.IsConflict(err) {
			return err
		}
		// A reservation wrote the hold meanwhile: read again.
	}
}
