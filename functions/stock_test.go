package functions_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"

	"github.com/natsfn/natsfn/schemas"
)

// TestStockMovesOncePerHold starts from what a reservation that died
// between taking stock and writing its hold leaves behind: the product's
// stock taken, with an open take for the order in the product record, and
// no hold. Message ids cannot tell a redelivery that the take was made
// (after a server restart the stream no longer knows the id of a
// superseded revision: chaos lost a unit that way); the open take does.
// The redelivered reservation writes the hold without taking again; a
// cancellation before any hold gives the open take back, once, however
// often it is delivered; a reservation redelivered after its order was
// confirmed and its hold committed (the open take not yet closed) gives
// nothing back.
func TestStockMovesOncePerHold(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Services: []string{"inventory"}})
	ctx := context.Background()
	kv, err := s.JS.KeyValue(ctx, inventory.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	type product struct {
		ProductID  string         `json:"product_id"`
		Name       string         `json:"name"`
		PriceCents int64          `json:"price_cents"`
		Available  int64          `json:"available"`
		Open       map[string]any `json:"open,omitempty"`
	}
	read := func() product {
		e, err := kv.Get(ctx, "product.sku-1")
		if err != nil {
			t.Fatal(err)
		}
		var p product
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Three reservations took 3 units each; two died before their holds,
	// the third's order was confirmed and its hold committed.
	p := read()
	e, _ := kv.Get(ctx, "product.sku-1")
	p.Available -= 9
	now := time.Now().UTC()
	p.Open = map[string]any{
		"o-redelivered": map[string]any{"op": "take", "quantity": 3, "at": now},
		"o-cancelled":   map[string]any{"op": "take", "quantity": 3, "at": now},
		"o-committed":   map[string]any{"op": "take", "quantity": 3, "at": now},
	}
	data, _ := json.Marshal(p)
	if _, err := kv.Update(ctx, "product.sku-1", data, e.Revision()); err != nil {
		t.Fatal(err)
	}
	committed := nats.NewMsg("$KV." + inventory.Bucket + ".hold.sku-1.o-committed")
	committed.Header.Set("KV-Operation", "DEL")
	committed.Header.Set("Natsfn-Reason", "committed") // as DeleteKey writes it
	if _, err := s.JS.PublishMsg(ctx, committed); err != nil {
		t.Fatal(err)
	}
	items := []schemas.OrderItem{sagatest.Item("sku-1", 3)}
	expires := now.Add(time.Minute)
	testkit.PublishEvent(t, s.JS, schemas.EventOrderCreated, "redelivery", schemas.OrderCreatedV1{OrderID: "o-redelivered", CustomerID: "c-1", Items: items, PaymentToken: "tok_visa", ExpiresAt: &expires})
	testkit.PublishEvent(t, s.JS, schemas.EventOrderCreated, "late-redelivery", schemas.OrderCreatedV1{OrderID: "o-committed", CustomerID: "c-1", Items: items, PaymentToken: "tok_visa", ExpiresAt: &expires})
	for i := range 3 {
		testkit.PublishEvent(t, s.JS, schemas.EventOrderCancelled, "cancel-"+string(rune('a'+i)), schemas.OrderCancelledV1{OrderID: "o-cancelled", Reason: "timed out", Items: items})
	}
	holdState := func(order string) string {
		st, err := s.JS.Stream(ctx, "KV_"+inventory.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetLastMsgForSubject(ctx, "$KV."+inventory.Bucket+".hold.sku-1."+order)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		if r := m.Header.Get("Natsfn-Reason"); r != "" {
			return r
		}
		return "live"
	}
	testkit.Eventually(t, 20*time.Second, "the redelivered reservation holds and the cancelled one is void", func() bool {
		return holdState("o-redelivered") == "live" && holdState("o-cancelled") == "void"
	})
	// Let every delivery run; then 10 - 3 held - 3 sold = 4, the cancelled
	// 3 back once.
	testkit.Eventually(t, 20*time.Second, "sku-1 settles at 4 available", func() bool {
		return read().Available == 4 && s.ConsumerIdle("inventory_release_orders_cancelled_v1") &&
			s.ConsumerIdle("inventory_reserve_orders_created_v1")
	})
	if p := read(); p.Available != 4 {
		t.Fatalf("sku-1 has %d available, want 4 (3 held by o-redelivered, 3 sold to o-committed)", p.Available)
	}
	if h := holdState("o-committed"); h != "committed" {
		t.Fatalf("o-committed's hold is %s after a late redelivery", h)
	}
}
