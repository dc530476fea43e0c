package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// reserve holds every item of a new order, or none, and says which. The
// holds and the products' new stock are one atomic batch, each key compared
// and set: a redelivery finds the holds there (and says "reserved" again),
// a crash leaves all or nothing, and a racing reservation of the same
// product makes one of them read again.
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
	productKeys := make([]string, len(items))
	for i, it := range items {
		productKeys[i] = productKey(it.ProductID)
	}
	unlock, err := runtime.LockKeys(ctx, kv, productKeys...)
	if err != nil {
		return struct{}{}, err
	}
	defer unlock()
	for {
		done, err := inv.decided(ctx, in, items)
		if done || err != nil {
			return struct{}{}, err
		}
		b := runtime.NewBatch(ctx)
		var total int64
		var rejected *schemas.StockRejectedV1
		for _, it := range items {
			s, err := readKey(ctx, kv, productKey(it.ProductID))
			if err != nil {
				return struct{}{}, err
			}
			if !s.live() {
				rejected = &schemas.StockRejectedV1{OrderID: in.OrderID, ProductID: it.ProductID, Reason: "unknown product " + it.ProductID}
				break
			}
			p, err := decode[product](s, productKey(it.ProductID))
			if err != nil {
				return struct{}{}, err
			}
			qty := int64(it.Quantity)
			if p.Available < qty {
				rejected = &schemas.StockRejectedV1{OrderID: in.OrderID, ProductID: it.ProductID,
					Reason: fmt.Sprintf("insufficient stock for %s: requested %d, available %d", it.ProductID, qty, p.Available)}
				break
			}
			p.Available -= qty
			b.PutKey(kv, holdKey(it.ProductID, in.OrderID), hold{Quantity: qty, PriceCents: p.PriceCents}, 0)
			b.PutKey(kv, productKey(it.ProductID), p, s.rev)
			total += qty * p.PriceCents
		}
		if rejected != nil {
			// Nothing is held. The markers say so to a later delivery, which
			// must not find the way clear once stock is back.
			b = runtime.NewBatch(ctx)
			for _, it := range items {
				b.DeleteKey(kv, holdKey(it.ProductID, in.OrderID), 0, inv.cfg.KeepSettled, settledRejected)
			}
		}
		err = b.Commit()
		if runtime.IsConflict(err) {
			continue // stock moved, or another delivery decided first: read again
		}
		if err != nil {
			return struct{}{}, err
		}
		if rejected != nil {
			return struct{}{}, announceRejected(ctx, *rejected)
		}
		return struct{}{}, announceReserved(ctx, in, total)
	}
}

// decided looks at the order's holds: if an earlier delivery decided, it
// says so again and reports done.
func (inv *inventory) decided(ctx context.Context, in schemas.OrderCreatedV1, items []schemas.OrderItem) (bool, error) {
	kv, err := runtime.KV(ctx, Bucket)
	if err != nil {
		return false, err
	}
	var total int64
	live, settled := 0, map[string]int{}
	for _, it := range items {
		s, err := readKey(ctx, kv, holdKey(it.ProductID, in.OrderID))
		if err != nil {
			return false, err
		}
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
	switch {
	case settled[settledReleased] > 0 || settled[settledCommitted] > 0:
		return true, nil // the order is settled: nothing left to say
	case settled[settledRejected] > 0:
		return true, announceRejected(ctx, schemas.StockRejectedV1{OrderID: in.OrderID, Reason: "rejected before"})
	case live == len(items):
		return true, announceReserved(ctx, in, total)
	case live > 0:
		// Holds are written all at once; some without the others are not
		// this version's doing.
		return true, runtime.Invalid(fmt.Sprintf("order %s holds %d of its %d products: inconsistent holds", in.OrderID, live, len(items)))
	}
	return false, nil
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
