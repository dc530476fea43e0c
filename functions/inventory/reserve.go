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
// Stock is taken first, product by product, each write compared and set on
// the product's revision and carrying a message id ("take|order|product"),
// so a redelivery that finds no holds yet takes nothing twice (the stream
// drops the repeat within its duplicates window, longer than an order can
// stay pending; reserve refuses an order past its deadline). Then the
// order's holds are written: once they exist, the reservation is decided.
// If stock runs out for an item, the order is marked rejected first (so a
// redelivery knows), then what was taken for the items before is given
// back, again with message ids. Stock is checked as it is taken, not read
// twice: a rejection is rare, and costs two writes per item taken.
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
	// A first delivery has nothing to look back on: the stream keeps one
	// orders.created per order within its duplicates window, which outlasts
	// the order's deadline (see Config). A redelivery may find the order
	// decided, or half done.
	if n, _ := runtime.Attempt(ctx); n > 1 {
		if done, err := inv.decided(ctx, kv, in, items); done || err != nil {
			return struct{}{}, err
		}
	}
	var total int64
	var taken []schemas.OrderItem
	prices := map[string]int64{}
	for _, it := range items {
		p, reason, err := inv.adjust(ctx, kv, it, -int64(it.Quantity), "take|"+in.OrderID, shortage)
		if err != nil {
			return struct{}{}, err
		}
		if reason != "" {
			return struct{}{}, inv.reject(ctx, kv, in, items, taken, it.ProductID, reason)
		}
		prices[it.ProductID] = p.PriceCents
		total += int64(it.Quantity) * p.PriceCents
		taken = append(taken, it)
	}
	if err := inv.writeHolds(ctx, kv, in.OrderID, items, prices); err != nil {
		return struct{}{}, err
	}
	return struct{}{}, announceReserved(ctx, in, total)
}

// writeHolds records the order's holds, the stock being taken already. A
// hold that is there already was written by another delivery; one marked
// void means the order was cancelled at its deadline while this delivery
// was taking stock: what it took for that item goes back.
func (inv *inventory) writeHolds(ctx context.Context, kv jetstream.KeyValue, orderID string, items []schemas.OrderItem, prices map[string]int64) error {
	for _, it := range items {
		key := holdKey(it.ProductID, orderID)
		_, _, err := runtime.PutKey(ctx, kv, key, hold{Quantity: int64(it.Quantity), PriceCents: prices[it.ProductID]}, 0, "")
		if !runtime.IsConflict(err) {
			if err != nil {
				return err
			}
			continue
		}
		s, err := readKey(ctx, kv, key)
		if err != nil {
			return err
		}
		if s.settled == settledVoid {
			if err := inv.giveBack(ctx, kv, orderID, it, "untake"); err != nil {
				return err
			}
		}
	}
	return nil
}

// reject marks every item of the order rejected, then gives back what was
// taken. A redelivery that finds the marks finishes the giving back.
func (inv *inventory) reject(ctx context.Context, kv jetstream.KeyValue, in schemas.OrderCreatedV1, items, taken []schemas.OrderItem, productID, reason string) error {
	for _, it := range items {
		if err := runtime.DeleteKey(ctx, kv, holdKey(it.ProductID, in.OrderID), 0, inv.cfg.KeepSettled, settledRejected); err != nil && !runtime.IsConflict(err) {
			return err
		}
	}
	for _, it := range taken {
		if err := inv.giveBack(ctx, kv, in.OrderID, it, "untake"); err != nil {
			return err
		}
	}
	return announceRejected(ctx, schemas.StockRejectedV1{OrderID: in.OrderID, ProductID: productID, Reason: reason})
}

// decided looks at the order's holds: if an earlier delivery (or the
// order's cancellation) decided, it finishes what may be unfinished and says
// the outcome again. Stock this order may have taken where no hold says so
// (an item marked rejected, or void: cancelled before any hold) is
// neutralized: the take is repeated (dropped if it was made, made if not)
// and given back once.
func (inv *inventory) decided(ctx context.Context, kv jetstream.KeyValue, in schemas.OrderCreatedV1, items []schemas.OrderItem) (bool, error) {
	var total int64
	live, settled := 0, map[string]int{}
	states := make([]keyState, len(items))
	for i, it := range items {
		s, err := readKey(ctx, kv, holdKey(it.ProductID, in.OrderID))
		if err != nil {
			return false, err
		}
		states[i] = s
		switch {
		case s.live():
			h, err := decode[hold](s, holdKey(it.ProductID, in.OrderID))
			if err != nil {
				return false, err
			}
			live++
			total += h.Quantity * h.PriceCents
		case s.settled != "":
			settled[s.settled]++
		}
	}
	if live == len(items) {
		return true, announceReserved(ctx, in, total)
	}
	if len(settled) > 0 {
		for i, it := range items {
			if st := states[i].settled; st == settledRejected || st == settledVoid || (st == "" && !states[i].live()) {
				if err := inv.neutralize(ctx, kv, in.OrderID, it); err != nil {
					return true, err
				}
			}
		}
		if settled[settledRejected] > 0 {
			return true, inv.reject(ctx, kv, in, items, nil, "", "rejected before")
		}
		return true, nil // cancelled, or settled: nothing left to say
	}
	if live > 0 {
		// Stock was taken for every item before the first hold was written:
		// the holds missing are written now (a repeated take is dropped).
		prices := map[string]int64{}
		for _, it := range items {
			if err := inv.retake(ctx, kv, in.OrderID, it); err != nil {
				return true, err
			}
			p, _, err := readProduct(ctx, kv, it.ProductID)
			if err != nil || p == nil {
				return true, err
			}
			prices[it.ProductID] = p.PriceCents
			total += int64(it.Quantity) * p.PriceCents
		}
		if err := inv.writeHolds(ctx, kv, in.OrderID, items, prices); err != nil {
			return true, err
		}
		return true, announceReserved(ctx, in, total)
	}
	return false, nil
}

// retake repeats an item's take: dropped as a repeat if it was taken, taken
// now if not.
func (inv *inventory) retake(ctx context.Context, kv jetstream.KeyValue, orderID string, it schemas.OrderItem) error {
	_, _, err := inv.adjust(ctx, kv, it, -int64(it.Quantity), "take|"+orderID, nil)
	return err
}

// neutralize undoes a take that may or may not have been made: it is
// repeated (dropped if it was made, made if not), then given back once.
func (inv *inventory) neutralize(ctx context.Context, kv jetstream.KeyValue, orderID string, it schemas.OrderItem) error {
	if err := inv.retake(ctx, kv, orderID, it); err != nil {
		return err
	}
	return inv.giveBack(ctx, kv, orderID, it, "untake")
}

// giveBack returns an item's stock once per (why, order, product).
func (inv *inventory) giveBack(ctx context.Context, kv jetstream.KeyValue, orderID string, it schemas.OrderItem, why string) error {
	_, _, err := inv.adjust(ctx, kv, it, int64(it.Quantity), why+"|"+orderID, nil)
	return err
}

// adjust changes the available stock of it's product by delta, once per
// write id (op + "|" + product: a repeat within the duplicates window is
// dropped), unless refuse has a reason not to. It compares and sets on the
// product's revision; inside this process one writer of a product at a
// time makes the attempt, so neighbours do not lose compare-and-sets to
// each other, and it starts from the record this process wrote last
// (inv.known) instead of reading it again: if anyone else wrote since, the
// compare-and-set fails and the record is read. A refusal is never decided
// on a remembered record, only on one just read.
func (inv *inventory) adjust(ctx context.Context, kv jetstream.KeyValue, it schemas.OrderItem, delta int64, op string, refuse func(*product, schemas.OrderItem) string) (*product, string, error) {
	unlock, err := runtime.LockKeys(ctx, kv, productKey(it.ProductID))
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	for {
		p, rev, remembered := inv.remembered(it.ProductID)
		if !remembered {
			if p, rev, err = readProduct(ctx, kv, it.ProductID); err != nil {
				return nil, "", err
			}
		}
		if refuse != nil {
			if reason := refuse(p, it); reason != "" {
				if remembered {
					inv.known.Delete(it.ProductID)
					continue
				}
				return p, reason, nil
			}
		} else if p == nil {
			return nil, "", nil // not in the catalog: it holds no stock for anyone
		}
		p.Available += delta
		newRev, repeated, err := runtime.PutKey(ctx, kv, productKey(it.ProductID), p, rev, op+"|"+it.ProductID)
		switch {
		case err == nil && !repeated:
			inv.known.Store(it.ProductID, knownProduct{p: *p, rev: newRev})
		default:
			// A repeat stored nothing (its revision is the first write's);
			// a lost compare-and-set or an error says nothing of the record.
			inv.known.Delete(it.ProductID)
		}
		if !runtime.IsConflict(err) {
			return p, "", err
		}
	}
}

// remembered is the product record this process wrote last, and its
// revision.
func (inv *inventory) remembered(productID string) (*product, uint64, bool) {
	k, ok := inv.known.Load(productID)
	if !ok {
		return nil, 0, false
	}
	kp := k.(knownProduct)
	p := kp.p
	return &p, kp.rev, true
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
