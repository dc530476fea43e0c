package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// reserve holds every item of a new order, or none, and says which.
//
// Per item, the product's stock is taken (an open take in the product
// record, see ledger.go), then the order's hold is written: once every hold
// exists, the reservation is decided. The take looks at the item's hold
// first: a redelivery, or a second copy of the event, finds what an earlier
// delivery did and finishes it. If stock runs out for an item, every item
// is marked rejected (so a redelivery knows), then what was taken goes
// back: a rejection is rare, and costs two writes per item taken.
func (inv *inventory) reserve(ctx context.Context, in schemas.OrderCreatedV1) (struct{}, error) {
	if in.ExpiresAt != nil && time.Now().After(*in.ExpiresAt) {
		// Past its deadline the order is cancelled, or about to be: stock
		// held now would be held for nobody.
		natsfn.Logger(ctx).Warn().Str("order_id", in.OrderID).Msg("order past its deadline; not reserving")
		return struct{}{}, nil
	}
	kv, err := natsfn.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	items := merged(in.Items)
	holds := make([]keyState, len(items))
	var total int64
	prices := map[string]int64{}
	for i, it := range items {
		p, held, _, reason, err := inv.stock.take(ctx, kv, in.OrderID, it)
		if err != nil {
			return struct{}{}, err
		}
		holds[i] = held
		switch {
		case held.settled != "":
			return struct{}{}, inv.settled(ctx, kv, in, items, holds)
		case reason != "":
			return struct{}{}, inv.reject(ctx, kv, in, items, it.ProductID, reason)
		case held.live():
			h, err := decode[hold](held, holdKey(it.ProductID, in.OrderID))
			if err != nil {
				return struct{}{}, err
			}
			prices[it.ProductID] = h.PriceCents
		default:
			prices[it.ProductID] = p.PriceCents
		}
		total += int64(it.Quantity) * prices[it.ProductID]
	}
	for i, it := range items {
		if !holds[i].live() {
			if err := inv.writeHold(ctx, kv, in.OrderID, it, prices[it.ProductID]); err != nil {
				return struct{}{}, err
			}
		}
	}
	return struct{}{}, announceReserved(ctx, in, total)
}

// settled finishes a reservation an earlier delivery or the order's
// cancellation decided (a hold marked): items never held get a void marker
// and their open takes back; a rejection is said again.
func (inv *inventory) settled(ctx context.Context, kv jetstream.KeyValue, in schemas.OrderCreatedV1, items []schemas.OrderItem, seen []keyState) error {
	rejected := false
	for i, it := range items {
		s := seen[i]
		if s.rev == 0 {
			// Not read yet, or nothing there: mark it, unless a hold
			// appeared (then whoever settles the order settles it).
			var err error
			if s, err = inv.voidHold(ctx, kv, in.OrderID, it.ProductID); err != nil {
				return err
			}
		}
		switch s.settled {
		case settledRejected, settledVoid:
			if err := inv.stock.untake(ctx, kv, in.OrderID, it.ProductID); err != nil {
				return err
			}
		}
		rejected = rejected || s.settled == settledRejected
	}
	if rejected {
		return announceRejected(ctx, schemas.StockRejectedV1{OrderID: in.OrderID, Reason: "rejected before"})
	}
	return nil
}

// voidHold marks an item's hold void unless the key holds something, and
// returns what it holds then.
func (inv *inventory) voidHold(ctx context.Context, kv jetstream.KeyValue, orderID, productID string) (keyState, error) {
	key := holdKey(productID, orderID)
	for {
		s, err := readKey(ctx, kv, key)
		if err != nil || s.rev != 0 {
			return s, err
		}
		err = natsfn.DeleteKey(ctx, kv, key, 0, inv.cfg.KeepSettled, settledVoid)
		if err == nil {
			return keyState{rev: 1, settled: settledVoid}, nil
		}
		if !natsfn.IsConflict(err) {
			return s, err
		}
	}
}

// writeHold records an order's hold on an item, the stock being taken
// already (by this delivery, or by another one whose take is still open:
// one take per order and product is open at a time, and none is made once
// a hold is there). A hold found already there was written on that take.
// A void marker means the order was cancelled at its deadline while the
// stock was being taken, a rejected one that another delivery rejected it:
// the open take goes back.
func (inv *inventory) writeHold(ctx context.Context, kv jetstream.KeyValue, orderID string, it schemas.OrderItem, price int64) error {
	key := holdKey(it.ProductID, orderID)
	_, _, err := natsfn.PutKey(ctx, kv, key, hold{Quantity: int64(it.Quantity), PriceCents: price}, 0, "")
	if err == nil {
		inv.stock.backed(it.ProductID, orderID, opTake)
		return nil
	}
	if !natsfn.IsConflict(err) {
		return err
	}
	s, err := readKey(ctx, kv, key)
	switch {
	case err != nil:
		return err
	case s.settled == settledVoid || s.settled == settledRejected:
		return inv.stock.untake(ctx, kv, orderID, it.ProductID)
	}
	inv.stock.backed(it.ProductID, orderID, opTake)
	return nil
}

// reject marks every item of the order rejected, then gives back what was
// taken for the items it marked. An item whose key holds something else (a
// hold another delivery wrote, on its take) is left to whoever settles the
// order. A redelivery that finds the marks finishes the giving back.
func (inv *inventory) reject(ctx context.Context, kv jetstream.KeyValue, in schemas.OrderCreatedV1, items []schemas.OrderItem, productID, reason string) error {
	for _, it := range items {
		key := holdKey(it.ProductID, in.OrderID)
		err := natsfn.DeleteKey(ctx, kv, key, 0, inv.cfg.KeepSettled, settledRejected)
		if natsfn.IsConflict(err) {
			s, rerr := readKey(ctx, kv, key)
			if rerr != nil {
				return rerr
			}
			if s.settled != settledRejected && s.settled != settledVoid {
				continue
			}
			err = nil
		}
		if err != nil {
			return err
		}
		if err := inv.stock.untake(ctx, kv, in.OrderID, it.ProductID); err != nil {
			return err
		}
	}
	return announceRejected(ctx, schemas.StockRejectedV1{OrderID: in.OrderID, ProductID: productID, Reason: reason})
}

func shortage(p *product, it schemas.OrderItem) string {
	switch {
	case p == nil:
		return "unknown product " + it.ProductID
	case p.Available < int64(it.Quantity):
		return fmt.Sprintf("insufficient stock for %s: requested %d, available %d", it.ProductID, it.Quantity, p.Available)
	}
	return ""
}

// readProduct reads a product and its revision; nil if there is none.
func readProduct(ctx context.Context, kv jetstream.KeyValue, id string) (*product, uint64, error) {
	s, err := readKey(ctx, kv, productKey(id))
	if err != nil || !s.live() {
		return nil, 0, err
	}
	p, err := decode[product](s, productKey(id))
	return &p, s.rev, err
}

func announceReserved(ctx context.Context, in schemas.OrderCreatedV1, total int64) error {
	natsfn.Logger(ctx).Info().Str("order_id", in.OrderID).Int64("total_cents", total).Msg("stock reserved")
	return natsfn.Emit(ctx, schemas.EventStockReserved, in.OrderID, schemas.StockReservedV1{OrderID: in.OrderID, TotalCents: total, PaymentToken: in.PaymentToken})
}

func announceRejected(ctx context.Context, r schemas.StockRejectedV1) error {
	natsfn.Logger(ctx).Info().Str("order_id", r.OrderID).Str("reason", r.Reason).Msg("stock rejected")
	return natsfn.Emit(ctx, schemas.EventStockRejected, r.OrderID, r)
}
