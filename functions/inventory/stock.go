package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

type (
	// product is the stored catalog entry. Holds records which order holds
	// how much, so holding, committing and releasing are each applied at
	// most once per order, whatever the number of deliveries.
	product struct {
		ProductID  string           `json:"product_id"`
		Name       string           `json:"name"`
		PriceCents int64            `json:"price_cents"`
		Available  int64            `json:"available"`
		Reserved   int64            `json:"reserved"`
		Holds      map[string]int64 `json:"holds,omitempty"`
	}

	// reservation is the inventory's memory of one order: what it decided,
	// so a redelivered event gets the same answer.
	reservation struct {
		State      string              `json:"state"` // holding | reserved | rejected | committed | released
		Items      []schemas.OrderItem `json:"items,omitempty"`
		TotalCents int64               `json:"total_cents"`
		ProductID  string              `json:"product_id,omitempty"`
		Reason     string              `json:"reason,omitempty"`
	}
)

const (
	stateHolding   = "holding" // items recorded, stock being held
	stateReserved  = "reserved"
	stateRejected  = "rejected"
	stateCommitted = "committed"
	stateReleased  = "released"
)

func productKey(id string) string     { return "product." + id }
func reservationKey(id string) string { return "order." + id }

func (p product) view() schemas.Product {
	return schemas.Product{ProductID: p.ProductID, Name: p.Name, PriceCents: p.PriceCents, Available: p.Available, Reserved: p.Reserved}
}

// rejection is why an order's items cannot be held.
type rejection struct {
	productID, reason string
}

func (r *rejection) Error() string { return r.reason }

// hold takes qty of a product for an order, unless the order holds it
// already, and returns the product's unit price.
func hold(ctx context.Context, kv jetstream.KeyValue, productID, orderID string, qty int64) (int64, error) {
	p, err := runtime.Mutate(ctx, kv, productKey(productID), func(p *product, exists bool) error {
		if !exists {
			return &rejection{productID, fmt.Sprintf("unknown product %s", productID)}
		}
		if _, held := p.Holds[orderID]; held {
			return runtime.ErrNoChange
		}
		if p.Available < qty {
			return &rejection{productID, fmt.Sprintf("insufficient stock for %s: requested %d, available %d", productID, qty, p.Available)}
		}
		if p.Holds == nil {
			p.Holds = map[string]int64{}
		}
		p.Available -= qty
		p.Reserved += qty
		p.Holds[orderID] = qty
		return nil
	})
	return p.PriceCents, err
}

// unhold ends an order's hold on a product: back to available (release) or
// gone for good (commit). Without a hold it does nothing.
func unhold(ctx context.Context, kv jetstream.KeyValue, productID, orderID string, sold bool) error {
	_, err := runtime.Mutate(ctx, kv, productKey(productID), func(p *product, exists bool) error {
		qty, held := p.Holds[orderID]
		if !exists || !held {
			return runtime.ErrNoChange
		}
		delete(p.Holds, orderID)
		p.Reserved -= qty
		if !sold {
			p.Available += qty
		}
		return nil
	})
	return err
}

// merged adds up the quantities of repeated products, in a stable order.
func merged(items []schemas.OrderItem) []schemas.OrderItem {
	sum := map[string]int{}
	for _, it := range items {
		sum[it.ProductID] += it.Quantity
	}
	out := make([]schemas.OrderItem, 0, len(sum))
	for id, q := range sum {
		out = append(out, schemas.OrderItem{ProductID: id, Quantity: q})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProductID < out[j].ProductID })
	return out
}

func asRejection(err error) (*rejection, bool) {
	var r *rejection
	ok := errors.As(err, &r)
	return r, ok
}
