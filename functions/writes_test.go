package functions_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/schemas"
)

// sequences reads every stream's last sequence: how many messages it has
// ever stored, overwrites, expired and purged ones included.
func sequences(s *sagatest.System) map[string]uint64 {
	out := map[string]uint64{}
	for info := range s.JS.ListStreams(context.Background()).Info() {
		out[info.Config.Name] = info.State.LastSeq
	}
	return out
}

// settledStock waits until no order holds stock any more.
func settledStock(t *testing.T, s *sagatest.System) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "every hold committed or released", func() bool {
		for _, p := range s.Stock() {
			if p.Reserved != 0 {
				return false
			}
		}
		return true
	})
}

// TestStoredMessagesPerOrder counts what the saga stores per order, from the
// streams' sequences before and after: every event, record, key, schedule
// and dead letter, overwrites included. The README's saga section lists
// them by step.
func TestStoredMessagesPerOrder(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Stock: 1000})
	const n = 20
	for _, tc := range []struct {
		token, status string
		limit         float64
	}{
		{"tok_visa", schemas.StatusConfirmed, 10},
		{"tok_decline", schemas.StatusCancelled, 12},
	} {
		before := sequences(s)
		for range n {
			id := s.PlaceOrder(tc.token, sagatest.Item("sku-1", 1))
			if o := s.Settle(id); o.Status != tc.status {
				t.Fatalf("order %s %s, want %s", id, o.Status, tc.status)
			}
		}
		settledStock(t, s)
		// Let the last events' consumers finish (release emits one more).
		time.Sleep(0)
		var total uint64
		var parts []string
		testkit.Eventually(t, 10*time.Second, "the streams stop moving", func() bool {
			a := sequences(s)
			time.Sleep(200 * time.Millisecond)
			b := sequences(s)
			for k, v := range b {
				if a[k] != v {
					return false
				}
			}
			total, parts = 0, nil
			for name, seq := range b {
				if d := seq - before[name]; d > 0 {
					total += d
					parts = append(parts, fmt.Sprintf("%s %.1f", name, float64(d)/n))
				}
			}
			return true
		})
		sort.Strings(parts)
		per := float64(total) / n
		t.Logf("%s orders: %.1f stored messages each (%s)", tc.status, per, strings.Join(parts, ", "))
		if per > tc.limit {
			t.Errorf("%s orders store %.1f messages each; the budget is %.0f", tc.status, per, tc.limit)
		}
	}
}
