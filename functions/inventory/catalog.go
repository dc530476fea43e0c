package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

func get(ctx context.Context, in schemas.GetProduct) (schemas.Product, error) {
	kv, err := natsfn.KV(ctx, Bucket)
	if err != nil {
		return schemas.Product{}, err
	}
	p, err := natsfn.GetJSON[product](ctx, kv, productKey(in.ProductID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return schemas.Product{}, natsfn.NotFound("no product %s", in.ProductID)
	}
	if err != nil {
		return schemas.Product{}, err
	}
	r, err := reserved(ctx, kv, p.ProductID)
	return p.view(r), err
}

func list(ctx context.Context, _ schemas.ListProducts) ([]schemas.Product, error) {
	kv, err := natsfn.KV(ctx, Bucket)
	if err != nil {
		return nil, err
	}
	return products(ctx, kv)
}

// quote says what items cost at today's prices (a pending order's total).
func quote(ctx context.Context, in schemas.Quote) (schemas.QuoteResult, error) {
	kv, err := natsfn.KV(ctx, Bucket)
	if err != nil {
		return schemas.QuoteResult{}, err
	}
	var total int64
	for _, it := range merged(in.Items) {
		p, err := natsfn.GetJSON[product](ctx, kv, productKey(it.ProductID))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return schemas.QuoteResult{}, natsfn.NotFound("no product %s", it.ProductID)
		}
		if err != nil {
			return schemas.QuoteResult{}, err
		}
		total += int64(it.Quantity) * p.PriceCents
	}
	return schemas.QuoteResult{TotalCents: total}, nil
}

// DemoCatalog is what `natsfn local` starts with.
func DemoCatalog(stock int64) []schemas.Product {
	names := []struct {
		id, name string
		price    int64
	}{
		{"sku-1", "Espresso beans, 1 kg", 2490},
		{"sku-2", "Pour-over kettle", 5900},
		{"sku-3", "Ceramic dripper", 2200},
		{"sku-4", "Paper filters, 100", 650},
		{"sku-5", "Hand grinder", 8900},
	}
	out := make([]schemas.Product, len(names))
	for i, n := range names {
		out[i] = schemas.Product{ProductID: n.id, Name: n.name, PriceCents: n.price, Available: stock}
	}
	return out
}

// Seed adds the products that are not in the catalog yet; existing ones keep
// their stock, so a restart of `natsfn local` keeps its state. It returns
// how many it added. An optional replica count applies if the bucket has to
// be created (the inventory service creates it otherwise).
func Seed(ctx context.Context, js jetstream.JetStream, catalog []schemas.Product, replicas ...int) (int, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		r := 1
		if len(replicas) > 0 {
			r = replicas[0]
		}
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Storage: jetstream.FileStorage, Replicas: r})
	}
	if err != nil {
		return 0, fmt.Errorf("inventory bucket: %w", err)
	}
	added := 0
	for _, p := range catalog {
		if strings.ContainsAny(p.ProductID, ".*> ") {
			return added, fmt.Errorf("product id %q: no dots, wildcards or spaces", p.ProductID)
		}
		data, _ := json.Marshal(product{ProductID: p.ProductID, Name: p.Name, PriceCents: p.PriceCents, Available: p.Available})
		switch _, err := kv.Create(ctx, productKey(p.ProductID), data); {
		case err == nil:
			added++
		case natsfn.IsConflict(err): // there already: its stock is the saga's now
		default:
			return added, err
		}
	}
	return added, nil
}

// Stock reads the catalog with its stock straight from the bucket, for
// invariant checks (tests, `natsfn load --check-stock`).
func Stock(ctx context.Context, js jetstream.JetStream) ([]schemas.Product, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if err != nil {
		return nil, err
	}
	return products(ctx, kv)
}
