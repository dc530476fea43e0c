package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// reserve holds every item of a new order, or none, and says which.
//
// Per item, the product's stock is taken (an open take in the product
// record, see ledger.go), then the order's hold is written: once every hold
// exists, the reservation is decided. If stock runs out for an item, every
// item is marked rejected (so a redelivery knows), then what was taken goes
// back. Stock is checked as it is taken, not read twice: a rejection is
// rare, and costs two writes per item taken. Every delivery first reads the
// order's holds: a redelivery, or a second copy of the event, finds what an
// earlier one did and finishes it.
func (inv *inventory) reserve(ctx context.Context, in schemas.OrderCreatedV1) (struct{}, error) {
	if in.ExpiresAt != nil && time.Now().After(*in.ExpiresAt) {
		// Past its deadline the order is cancelled, or about to be: stock
		// held now would be held for nobody.
		runtime.Logger(ctx).Warn().Str("order_id", in.OrderID).Msg("order past its deadline; not reserving")
		return struct{}{}, nil
	}
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	items := merged(in.Items)
	holds := make([]keyState, len(items))
	var settled, rejected bool
	for i, it := range items {
		if holds[i], err = readKey(ctx, kv, holdKey(it.ProductID, in.OrderID)); err != nil {
			return struct{}{}, err
		}
		settled = settled || holds[i].settled != ""
		rejected = rejected || holds[i].settled == settledRejected
	}
	if settled {
		// Rejected before, or cancelled (void) before any hold: what an
		// earlier delivery may have taken goes back, and the outcome is
		// said again if it was a rejection.
		for i, it := range items {
			if !holds[i].live() {
				if err := inv.stock.untake(ctx, kv, in.OrderID, it.ProductID); err != nil {
					return struct{}{}, err
				}
			}
		}
		if rejected {
			return struct{}{}, inv.reject(ctx, kv, in, items, "", "rejected before")
		}
		return struct{}{}, nil
	}
	var total int64
	prices := map[string]int64{}
	took := make([]bool, len(items))
	for i, it := range items {
		if holds[i].live() {
			h, err := decode[hold](holds[i], holdKey(it.ProductID, in.OrderID))
			if err != nil {
				return struct{}{}, err
			}
			prices[it.ProductID] = h.PriceCents
			total += h.Quantity * h.PriceCents
			continue
		}
		p, tookIt, reason, err := inv.stock.take(ctx, kv, in.OrderID, it)
		took[i] = tookIt
		if err != nil {
			return struct{}{}, err
		}
		if reason != "" {
			return struct{}{}, inv.reject(ctx, kv, in, items, it.ProductID, reason)
		}
		prices[it.ProductID] = p.PriceCents
		total += int64(it.Quantity) * p.PriceCents
	}
	for i, it := range items {
		if holds[i].live() {
			inv.stock.backed(it.ProductID, in.OrderID, opTake)
			continue
		}
		if err := inv.writeHold(ctx, kv, in.OrderID, it, prices[it.ProductID], took[i]); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, announceReserved(ctx, in, total)
}

// writeHold records an order's hold on an item, the stock being taken
// already (by this delivery if took, else by another one). A hold that is
// there already was written by another delivery, on stock it took: what
// this one took goes back. So does it if the hold is marked (void: the
// order was cancelled at its deadline while this delivery was taking
// stock; rejected, committed, released: another delivery decided).
func (inv *inventory) writeHold(ctx context.Context, kv jetstream.KeyValue, orderID string, it schemas.OrderItem, price int64, took bool) error {
	key := holdKey(it.ProductID, orderID)
	_, _, err := runtime.PutKey(ctx, kv, key, hold{Quantity: int64(it.Quantity), PriceCents: price}, 0, "")
	if err == nil {
		inv.stock.backed(it.ProductID, orderID, opTake)
		return nil
	}
	if !runtime.IsConflict(err) {
		return err
	}
	s, err := readKey(ctx, kv, key)
	switch {
	case err != nil:
		return err
	case s.live() && !took:
		inv.stock.backed(it.ProductID, orderID, opTake)
		return nil
	case s.live() || took || s.settled == settledVoid || s.settled == settledRejected:
		return inv.stock.untake(ctx, kv, orderID, it.ProductID)
	}
	// Committed or released: the open take, if any, is another delivery's,
	// and its hold backed it.
	inv.stock.backed(it.ProductID, orderID, opTake)
	return nil
}

// reject marks every item of the order rejected, then gives back what was
// taken. A redelivery that finds the marks finishes the giving back.
func (inv *inventory) reject(ctx context.Context, kv jetstream.KeyValue, in schemas.OrderCreatedV1, items []schemas.OrderItem, productID, reason string) error {
	for _, it := range items {
		if err := runtime.DeleteKey(ctx, kv, holdKey(it.ProductID, in.OrderID), 0, inv.cfg.KeepSettled, settledRejected); err != nil && !runtime.IsConflict(err) {
			return err
		}
	}
	for _, it := range items {
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
	runtime.Logger(ctx).Info().Str("order_id", in.OrderID).Int64("total_cents", total).Msg("stock reserved")
	return runtime.Emit(ctx, schemas.EventStockReserved, schemas.StockReservedV1{OrderID: in.OrderID, TotalCents: total, PaymentToken: in.PaymentToken},
		runtime.WithEventID(in.OrderID))
}

func announceRejected(ctx context.Context, r schemas.StockRejectedV1) error {
	runtime.Logger(ctx).Info().Str("order_id", r.OrderID).Str("reason", r.Reason).Msg("stock rejected")
	return runtime.Emit(ctx, schemas.EventStockRejected, r, runtime.WithEventID(r.OrderID))
}
