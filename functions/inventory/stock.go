package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

type (
	// product is the stored catalog entry: what is available, and the
	// changes of stock whose holds are being written (see ledger.go).
	product struct {
		ProductID  string                `json:"product_id"`
		Name       string                `json:"name"`
		PriceCents int64                 `json:"price_cents"`
		Available  int64                 `json:"available"`
		Open       map[string]openChange `json:"open,omitempty"`
	}

	// hold is one order's hold on one product: what it took, at what price.
	hold struct {
		Quantity   int64 `json:"quantity"`
		PriceCents int64 `json:"price_cents"`
	}
)

// Why a hold's key was deleted, on its marker.
const (
	settledCommitted = "committed"
	settledReleased  = "released" // a live hold, its stock given back
	settledVoid      = "void"     // cancelled with nothing held
	settledRejected  = "rejected"
)

func productKey(id string) string            { return "product." + id }
func holdKey(productID, order string) string { return "hold." + productID + "." + order }

// view is a product as callers see it, with the stock its live holds keep.
func (p product) view(reserved int64) schemas.Product {
	return schemas.Product{ProductID: p.ProductID, Name: p.Name, PriceCents: p.PriceCents, Available: p.Available, Reserved: reserved}
}

// reserved adds up a product's live holds (deleted ones are not listed).
func reserved(ctx context.Context, kv jetstream.KeyValue, productID string) (int64, error) {
	keys, err := kv.ListKeysFiltered(ctx, holdKey(productID, "*"))
	if err != nil {
		return 0, err
	}
	var total int64
	for k := range keys.Keys() {
		h, err := natsfn.GetJSON[hold](ctx, kv, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // settled meanwhile
		}
		if err != nil {
			return 0, err
		}
		total += h.Quantity
	}
	return total, nil
}

// products lists the catalog with its stock.
func products(ctx context.Context, kv jetstream.KeyValue) ([]schemas.Product, error) {
	keys, err := kv.ListKeysFiltered(ctx, productKey("*"))
	if err != nil {
		return nil, err
	}
	out := []schemas.Product{}
	for k := range keys.Keys() {
		p, err := natsfn.GetJSON[product](ctx, kv, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r, err := reserved(ctx, kv, p.ProductID)
		if err != nil {
			return nil, err
		}
		out = append(out, p.view(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProductID < out[j].ProductID })
	return out, nil
}

// keyState is a key's last message as a step decides on it: a value and
// its revision, a delete marker and why, or nothing.
type keyState struct {
	rev     uint64
	settled string // the marker's reason, if deleted
	value   []byte
}

func (s keyState) live() bool { return s.rev != 0 && s.settled == "" }

func readKey(ctx context.Context, kv jetstream.KeyValue, key string) (keyState, error) {
	value, rev, deleted, err := natsfn.ReadKey(ctx, kv, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return keyState{}, nil
	}
	return keyState{rev: rev, settled: deleted, value: value}, err
}

func decode[T any](s keyState, key string) (T, error) {
	var v T
	if err := json.Unmarshal(s.value, &v); err != nil {
		return v, fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
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
