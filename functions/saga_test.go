package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/schemas"
)

// TestOrderOutcomes places one order per case and follows it to its end:
// its status and reason, the stock once every hold is committed or given
// back, and how often the provider charged it.
func TestOrderOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   sagatest.Options
		token  string
		items  []schemas.OrderItem
		status string
		reason string           // in the order's reason
		total  int64            // of a confirmed order
		stock  map[string]int64 // available once settled, nothing reserved
		charge int              // successful charges of the order
	}{
		{name: "order is confirmed", items: []schemas.OrderItem{sagatest.Item("sku-1", 2), sagatest.Item("sku-4", 3)},
			status: schemas.StatusConfirmed, total: 2*2490 + 3*650, stock: map[string]int64{"sku-1": 8, "sku-4": 7}, charge: 1},
		{name: "insufficient stock cancels and keeps stock", token: "tok_visa", items: []schemas.OrderItem{sagatest.Item("sku-1", 1), sagatest.Item("sku-2", 11)},
			status: schemas.StatusCancelled, reason: "insufficient stock for sku-2: requested 11, available 10", stock: map[string]int64{"sku-1": 10, "sku-2": 10}},
		{name: "unknown product cancels naming it", items: []schemas.OrderItem{sagatest.Item("sku-1", 1), sagatest.Item("no-such-sku", 1)},
			status: schemas.StatusCancelled, reason: "unknown product no-such-sku", stock: map[string]int64{"sku-1": 10}},
		{name: "declined payment cancels and releases stock", token: "tok_decline", items: []schemas.OrderItem{sagatest.Item("sku-3", 4)},
			status: schemas.StatusCancelled, reason: "declined", stock: map[string]int64{"sku-3": 10}},
		{name: "flaky payment is retried to confirmation", token: "tok_flaky", items: []schemas.OrderItem{sagatest.Item("sku-5", 1)},
			status: schemas.StatusConfirmed, total: 8900, stock: map[string]int64{"sku-5": 9}, charge: 1},
		{name: "provider down beyond the retry budget cancels", opts: sagatest.Options{Sim: paysim.Config{FailureRate: 1}},
			token: "tok_visa", items: []schemas.OrderItem{sagatest.Item("sku-1", 2)},
			status: schemas.StatusCancelled, reason: "payment provider unavailable", stock: map[string]int64{"sku-1": 10}},
		// No payment service runs: nothing will ever charge the order.
		{name: "stalled order times out", opts: sagatest.Options{Services: []string{"orders", "inventory", "paysim"}, Orders: orders.Config{Timeout: time.Second}},
			token: "tok_visa", items: []schemas.OrderItem{sagatest.Item("sku-2", 3)},
			status: schemas.StatusCancelled, reason: "timed out", stock: map[string]int64{"sku-2": 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sagatest.Start(t, tc.opts)
			body, _ := json.Marshal(schemas.CreateOrder{CustomerID: "c-1", Items: tc.items, PaymentToken: tc.token})
			r := s.Do(http.MethodPost, "/orders", body)
			if r.Status != http.StatusAccepted {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			var acc schemas.OrderAccepted
			r.JSON(t, &acc)
			if acc.Status != schemas.StatusPending || r.Header.Get("Location") != "/orders/"+acc.OrderID {
				t.Fatalf("accepted %+v, Location %q", acc, r.Header.Get("Location"))
			}
			o := s.Settle(acc.OrderID)
			if o.Status != tc.status || !strings.Contains(o.Reason, tc.reason) || o.CustomerID != "c-1" || len(o.Items) != len(tc.items) ||
				tc.status == schemas.StatusConfirmed && o.TotalCents != tc.total {
				t.Fatalf("order %+v", o)
			}
			testkit.Eventually(t, 5*time.Second, fmt.Sprintf("stock settles at %v, nothing reserved", tc.stock), func() bool {
				st := s.Stock()
				for id, n := range tc.stock {
					if st[id].Available != n || st[id].Reserved != 0 {
						return false
					}
				}
				return true
			})
			if c := s.Charges(); c.Charges[acc.OrderID] != tc.charge {
				t.Fatalf("charged %d times, want %d", c.Charges[acc.OrderID], tc.charge)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{})
	body := []byte(`{"customer_id":"c-9","items":[{"product_id":"sku-1","quantity":1}]}`)
	first := s.Do(http.MethodPost, "/orders", body, "Idempotency-Key", "key-1")
	again := s.Do(http.MethodPost, "/orders", body, "Idempotency-Key", "key-1")
	if first.Status != 202 || again.Status != 202 {
		t.Fatalf("statuses %d %d: %s %s", first.Status, again.Status, first.Body, again.Body)
	}
	var a, b schemas.OrderAccepted
	first.JSON(t, &a)
	again.JSON(t, &b)
	if a.OrderID != b.OrderID {
		t.Fatalf("same key, two orders: %s %s", a.OrderID, b.OrderID)
	}
	other := s.Do(http.MethodPost, "/orders", []byte(`{"customer_id":"c-9","items":[{"product_id":"sku-1","quantity":2}]}`), "Idempotency-Key", "key-1")
	if other.Status != http.StatusConflict || !strings.Contains(string(other.Body), "different body") {
		t.Fatalf("different body: %d %s", other.Status, other.Body)
	}
	s.Settle(a.OrderID)
	testkit.Eventually(t, 5*time.Second, "one unit sold, not two", func() bool { return s.Stock()["sku-1"].Available == 9 })
	if c := s.Charges(); c.Charges[a.OrderID] != 1 {
		t.Fatalf("charged %d times", c.Charges[a.OrderID])
	}
}

func TestCorrelationIDReachesEveryStep(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{})
	body := []byte(`{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":1}]}`)
	r := s.Do(http.MethodPost, "/orders", body, "X-Correlation-ID", "trace-me-42")
	if r.Header.Get("X-Correlation-ID") != "trace-me-42" {
		t.Fatalf("not echoed: %v", r.Header)
	}
	var acc schemas.OrderAccepted
	r.JSON(t, &acc)
	s.Settle(acc.OrderID)
	want := map[string]bool{"create": false, "reserve": false, "charge": false, "confirm": false, "commit": false}
	testkit.Eventually(t, 5*time.Second, "every step logged the correlation id", func() bool {
		for _, l := range s.Logs.JSONLines() {
			if l["correlation_id"] == "trace-me-42" {
				if f, ok := l["function"].(string); ok {
					want[f] = true
				}
			}
		}
		for _, seen := range want {
			if !seen {
				return false
			}
		}
		return true
	})
	if r := s.Do(http.MethodGet, "/products", nil); r.Header.Get("X-Correlation-ID") == "" {
		t.Fatal("no correlation id generated")
	}
}

// TestAReservationThatCannotFinishHoldsNothing: the order's second product
// record is corrupt, so reserve fails on every delivery, after taking the
// first product's stock. The order times out at its deadline, after which
// reserve stops trying; its release finds no hold and gives back what the
// reservation may have taken, exactly once.
func TestAReservationThatCannotFinishHoldsNothing(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Orders: orders.Config{Timeout: time.Second}})
	ctx := context.Background()
	kv, err := s.JS.KeyValue(ctx, inventory.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "product.sku-zz", []byte("{corrupt")); err != nil {
		t.Fatal(err)
	}
	id := s.PlaceOrder("tok_visa", sagatest.Item("sku-1", 4), sagatest.Item("sku-zz", 1))
	o := s.Settle(id)
	if o.Status != schemas.StatusCancelled || !strings.Contains(o.Reason, "timed out") {
		t.Fatalf("order %+v", o)
	}
	// (The catalog cannot be listed whole: one of its records is corrupt.)
	available := func() int64 {
		e, err := kv.Get(ctx, "product.sku-1")
		if err != nil {
			t.Fatal(err)
		}
		var p schemas.Product
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			t.Fatalf("sku-1 %s: %v", e.Value(), err)
		}
		return p.Available
	}
	testkit.Eventually(t, 30*time.Second, "sku-1's stock comes back", func() bool { return available() == 10 })
	// Redeliveries of the release (it fails on the corrupt product) give
	// nothing back twice.
	testkit.Eventually(t, 30*time.Second, "the release is dead-lettered", func() bool {
		st, err := s.JS.Stream(ctx, deadletter.Name)
		if err != nil {
			return false
		}
		_, err = st.GetLastMsgForSubject(ctx, "natsfn.dlq.inventory.release")
		return err == nil
	})
	if n := available(); n != 10 {
		t.Fatalf("sku-1 has %d available after the release's redeliveries, want 10", n)
	}
	keys, err := kv.ListKeysFiltered(ctx, "hold.*."+id)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		t.Errorf("hold %s is live", k)
	}
}

// TestStockWrittenElsewhereIsSeen: reserve starts from the product record
// its process wrote last, which another writer (here an operator restocking
// by hand; in production another replica) may have changed since. A
// reservation must then see the new stock: it succeeds where the
// remembered record would refuse it, and takes from the new value.
func TestStockWrittenElsewhereIsSeen(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{})
	ctx := context.Background()
	kv, err := s.JS.KeyValue(ctx, inventory.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if o := s.Settle(s.PlaceOrder("tok_visa", sagatest.Item("sku-1", 10))); o.Status != schemas.StatusConfirmed {
		t.Fatalf("the order for all of sku-1 was %s (%s)", o.Status, o.Reason)
	}
	e, err := kv.Get(ctx, "product.sku-1")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(e.Value(), &p); err != nil || p["available"] != float64(0) {
		t.Fatalf("sku-1 after selling it all: %s %v", e.Value(), err)
	}
	p["available"] = 5
	restocked, _ := json.Marshal(p)
	if _, err := kv.Update(ctx, "product.sku-1", restocked, e.Revision()); err != nil {
		t.Fatal(err)
	}
	if o := s.Settle(s.PlaceOrder("tok_visa", sagatest.Item("sku-1", 3))); o.Status != schemas.StatusConfirmed {
		t.Fatalf("an order after the restock was %s (%s): decided on the stock remembered from before", o.Status, o.Reason)
	}
	testkit.Eventually(t, 20*time.Second, "sku-1 has 2 left", func() bool { return s.Stock()["sku-1"].Available == 2 })
}
