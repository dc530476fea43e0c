// Package inventory owns the catalog and the stock: it reserves an order's
// items all or nothing when the order is created, and later either commits
// the reservation (the order is confirmed) or releases it (cancelled).
package inventory

import (
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Bucket is the inventory's own key-value bucket; no other service reads it.
const Bucket = "inventory"

// Service returns the inventory function service.
func Service() runtime.Service {
	return runtime.Service{
		Name:        "inventory",
		Version:     "1.0.0",
		Description: "Catalog and stock: reserves, commits and releases order items",
		Streams:     schemas.Streams(),
		Buckets:     []runtime.Bucket{{Name: Bucket}},
		Functions: []*runtime.Function{
			runtime.Func(runtime.FuncConfig{Name: "reserve", Description: "holds every item of a new order, or none",
				On: []string{schemas.EventOrderCreated}, Idempotent: true, Emits: []string{schemas.EventStockReserved, schemas.EventStockRejected}}, reserve),
			runtime.Func(runtime.FuncConfig{Name: "commit", Description: "turns a confirmed order's held stock into sold stock",
				On: []string{schemas.EventOrderConfirmed}, Idempotent: true}, commit),
			runtime.Func(runtime.FuncConfig{Name: "release", Description: "gives a cancelled order's held stock back, once",
				On: []string{schemas.EventOrderCancelled}, Idempotent: true, Emits: []string{schemas.EventStockReleased}}, release),
			runtime.Func(runtime.FuncConfig{Name: "get", Subject: schemas.SubjectGetProduct, Description: "one product with its stock"}, get),
			runtime.Func(runtime.FuncConfig{Name: "list", Subject: schemas.SubjectListProducts, Description: "the catalog with stock"}, list),
		},
	}
}
