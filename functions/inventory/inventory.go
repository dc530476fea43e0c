// Package inventory owns the catalog and the stock: it reserves an order's
// items all or nothing when the order is created, and later either commits
// the reservation (the order is confirmed) or releases it (cancelled).
//
// A product's record holds its available stock and nothing per order, so
// it stays the same size whatever the orders in flight. Each order's hold
// on a product is a key of its own, hold.<product>.<order>, written after
// the product's new stock (compare-and-set on each; ledger.go says how the
// pair stays exactly-once without an atomic batch): a hold exists at most
// once per order and product, and stock moves once per hold, whatever the
// deliveries and restarts. Committing or releasing
// deletes the hold; its delete marker, which says which, stays for a while
// so a late redelivery finds it, then goes. Reserved stock is the sum of
// the live holds.
package inventory

import (
	"fmt"
	"time"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Bucket is the inventory's own key-value bucket; no other service reads it.
const Bucket = "inventory"

// Config tunes the inventory service.
type Config struct {
	// KeepSettled is how long a committed, released or rejected hold's
	// marker is kept: longer than an order can stay pending, so no
	// redelivered reservation of a settled order finds the way clear
	// (reserve also refuses an order past its deadline). Default 1h.
	KeepSettled time.Duration
	// LowStock, if above 0, watches the product records and logs a warning
	// when one's available stock falls below it (a key-value watch
	// trigger). Off by default.
	LowStock int64
	// Report, if set, logs the catalog's stock on this schedule (a schedule
	// trigger, e.g. "@every 1m"; see natsfn.FuncConfig.Schedule), in
	// ReportTimeZone for a cron expression. Off by default.
	Report         string
	ReportTimeZone string
}

// SetDefaults fills the zero values.
func (c *Config) SetDefaults() {
	if c.KeepSettled == 0 {
		c.KeepSettled = time.Hour
	}
}

// Validate reports settings that cannot work, after defaults.
func (c *Config) Validate() error {
	if c.KeepSettled < time.Minute {
		return fmt.Errorf("%w: inventory: keep settled %s: must be at least 1m", natsfn.ErrConfig, c.KeepSettled)
	}
	if c.LowStock < 0 {
		return fmt.Errorf("%w: inventory: low stock %d: must not be negative (0 turns the warning off)", natsfn.ErrConfig, c.LowStock)
	}
	return nil
}

// Stream keeps the inventory's events.
const Stream = "INVENTORY"

// Service returns the inventory function service.
func Service(cfg Config) (natsfn.Service, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return natsfn.Service{}, err
	}
	inv := &inventory{cfg: cfg}
	stock := []string{Bucket}
	svc := natsfn.Service{
		Name:        "inventory",
		Version:     "1.0.0",
		Description: "Catalog and stock: reserves, commits and releases order items",
		Streams:     []natsfn.Stream{{Name: Stream, Subjects: []string{"inventory.*.*"}}},
		Buckets:     []natsfn.Bucket{{Name: Bucket}},
		Functions: []*natsfn.Function{
			natsfn.Func(natsfn.FuncConfig{Name: "reserve", Description: "holds every item of a new order, or none",
				On: []string{schemas.EventOrderCreated}, Idempotent: true, Buckets: stock, Emits: []string{schemas.EventStockReserved, schemas.EventStockRejected}}, inv.reserve),
			natsfn.Func(natsfn.FuncConfig{Name: "commit", Description: "turns a confirmed order's held stock into sold stock",
				On: []string{schemas.EventOrderConfirmed}, Idempotent: true, Buckets: stock}, inv.commit),
			natsfn.Func(natsfn.FuncConfig{Name: "release", Description: "gives a cancelled order's held stock back, once",
				On: []string{schemas.EventOrderCancelled}, Idempotent: true, Buckets: stock, Emits: []string{schemas.EventStockReleased}}, inv.release),
			natsfn.Func(natsfn.FuncConfig{Name: "get", Subject: schemas.SubjectGetProduct, Description: "one product with its stock", Buckets: stock}, get),
			natsfn.Func(natsfn.FuncConfig{Name: "list", Subject: schemas.SubjectListProducts, Description: "the catalog with stock", Buckets: stock}, list),
			natsfn.Func(natsfn.FuncConfig{Name: "quote", Subject: schemas.SubjectQuote, Description: "what items cost now", Buckets: stock}, quote),
		},
	}
	if cfg.LowStock > 0 {
		svc.Functions = append(svc.Functions, natsfn.Func(natsfn.FuncConfig{Name: "lowstock",
			Description: "warns when a product's available stock falls below the threshold",
			Watch:       Bucket, WatchKeys: "product.>", Idempotent: true}, inv.lowStock))
	}
	if cfg.Report != "" {
		svc.Functions = append(svc.Functions, natsfn.Func(natsfn.FuncConfig{Name: "report",
			Description: "logs the catalog's stock", Schedule: cfg.Report, TimeZone: cfg.ReportTimeZone,
			Idempotent: true, Buckets: stock}, report))
	}
	return svc, nil
}

type inventory struct {
	cfg   Config
	stock ledger
}
