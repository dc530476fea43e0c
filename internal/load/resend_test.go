package load_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/internal/load"
	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/schemas"
)

// TestLoadResendsLostRepliesWithoutDuplicates puts a proxy in front of the
// gateway that lets every first POST /orders through but loses its reply
// (504, as when a node dies after the order is stored). natsfn load must
// send each order again under its Idempotency-Key, count it once, and the
// system must hold exactly one order per key, with stock conserved.
func TestLoadResendsLostRepliesWithoutDuplicates(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Stock: 200})
	target, _ := url.Parse(s.URL)
	var mu sync.Mutex
	seen := map[string]bool{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, target.String()+r.URL.Path, r.Body)
		out.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		key := r.Header.Get(schemas.HeaderIdempotencyKey)
		lose := false
		if r.Method == http.MethodPost {
			mu.Lock()
			lose = !seen[key]
			seen[key] = true
			mu.Unlock()
		}
		if lose {
			http.Error(w, "reply lost", http.StatusGatewayTimeout)
			return
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)

	ctx := context.Background()
	const orders = 20
	rep, err := load.Run(ctx, load.Config{Client: load.NewHTTP(proxy.URL, 4), Concurrency: 4, Orders: orders,
		RetryFor: 10 * time.Second, Settle: time.Minute, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Accepted) != orders || rep.Retried != orders || rep.Unknown != 0 || rep.Codes[http.StatusAccepted] != orders {
		for _, l := range s.Logs.JSONLines() {
			if l["level"] == "error" {
				t.Log(l)
			}
		}
		t.Fatalf("accepted %d, retried %d, unknown %d, codes %v; want all %d accepted after one retry each",
			len(rep.Accepted), rep.Retried, rep.Unknown, rep.Codes, orders)
	}
	if len(seen) != orders {
		t.Fatalf("%d distinct Idempotency-Keys for %d orders", len(seen), orders)
	}
	st, err := s.JS.Stream(ctx, "ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(schemas.EventOrderCreated))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[schemas.EventOrderCreated]; n != orders {
		t.Fatalf("ORDERS holds %d orders.created.v1 events for %d orders", n, orders)
	}
	if rep.Unsettled != 0 {
		t.Fatalf("%d orders never settled", rep.Unsettled)
	}
	// A confirmed order's stock is committed after it is confirmed (an event
	// later): poll until it is, or say what is still off.
	var stockErr error
	if !testkit.Poll(30*time.Second, func() bool {
		stock, err := inventory.Stock(ctx, s.JS)
		if stockErr = err; err == nil {
			stockErr = load.CheckStock(s.Initial, stock, rep.Confirmed())
		}
		return stockErr == nil
	}) {
		t.Fatal(stockErr)
	}
}
