package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/sagatest"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// clients is the concurrency of every comparison.
const clients = 16

// startSystem runs natsfn's saga (or the services named) and gateway as
// the benchmarks measure them: the runtime's default event settings but
// for a deep ack window, `clients` invocations at once, stock that never
// runs out, no logs.
func startSystem(tb testing.TB, names ...string) *sagatest.System {
	tb.Helper()
	return sagatest.Start(tb, sagatest.Options{Services: names, Concurrency: clients,
		Events: natsfn.EventsConfig{MaxAckPending: 10000}, Stock: 1 << 40, Quiet: true})
}

var orderBody = []byte(`{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":1},{"product_id":"sku-2","quantity":1}],"payment_token":"tok_visa"}`)

func httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}}
}

// postOrders sends n POSTs from `clients` goroutines and returns the order ids.
func postOrders(tb testing.TB, url string, n int) []string {
	c := httpClient()
	var next atomic.Int64
	ids := make([]string, n)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				resp, err := c.Post(url+"/orders", "application/json", bytes.NewReader(orderBody))
				if err != nil {
					tb.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var acc schemas.OrderAccepted
				if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &acc) != nil {
					tb.Errorf("POST /orders: %d %s", resp.StatusCode, body)
					return
				}
				ids[i] = acc.OrderID
			}
		})
	}
	wg.Wait()
	return ids
}

// terminalCounter counts distinct orders announced on the given subjects.
func terminalCounter(tb testing.TB, nc *nats.Conn, subjects ...string) func() int {
	var mu sync.Mutex
	seen := map[string]bool{}
	for _, s := range subjects {
		sub, err := nc.Subscribe(s, func(m *nats.Msg) {
			var v struct {
				OrderID string `json:"order_id"`
			}
			_ = json.Unmarshal(m.Data, &v)
			mu.Lock()
			seen[v.OrderID] = true
			mu.Unlock()
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	_ = nc.Flush()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
}

// waitFor polls until count() reaches n.
func waitFor(tb testing.TB, n int, count func() int) {
	deadline := time.Now().Add(5 * time.Minute)
	for count() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d of %d came through", count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func perSecond(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func must(tb testing.TB, err error) {
	if err != nil {
		tb.Helper()
		tb.Fatal(err)
	}
}
