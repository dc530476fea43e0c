package inventory

import (
	"context"
	"time"

	natsfn "github.com/natsfn/natsfn/runtime"
)

// lowStock runs for every change of a product record (a key-value watch
// trigger) and warns when what is available falls below the threshold: an
// operator sees it in the logs the moment it happens, without polling.
func (inv *inventory) lowStock(ctx context.Context, c natsfn.Change[product]) (struct{}, error) {
	if c.Operation != "put" || c.Value == nil || c.Value.Available >= inv.cfg.LowStock {
		return struct{}{}, nil
	}
	natsfn.Logger(ctx).Warn().Str("product_id", c.Value.ProductID).Int64("available", c.Value.Available).
		Int64("threshold", inv.cfg.LowStock).Uint64("revision", c.Revision).Msg("low stock")
	return struct{}{}, nil
}

// report logs the catalog's stock on a schedule kept in NATS: one line per
// tick, from one replica, whatever the number of replicas.
func report(ctx context.Context, due time.Time) (struct{}, error) {
	kv, err := natsfn.KV(ctx, Bucket)
	if err != nil {
		return struct{}{}, err
	}
	list, err := products(ctx, kv)
	if err != nil {
		return struct{}{}, err
	}
	var available, reserved int64
	for _, p := range list {
		available += p.Available
		reserved += p.Reserved
	}
	natsfn.Logger(ctx).Info().Time("due", due).Int("products", len(list)).Int64("available", available).
		Int64("reserved", reserved).Msg("stock report")
	return struct{}{}, nil
}
