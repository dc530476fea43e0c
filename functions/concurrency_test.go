package functions_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/internal/testkit"
	"github.com/natsfn/natsfn/schemas"
)

// TestManyOrdersFromManyClients: 500 orders from 16 clients over random
// products, tokens and quantities all end in one terminal state, and the
// stock adds up: initial = available + confirmed quantities, nothing held.
func TestManyOrdersFromManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("500 orders; skipped with -short")
	}
	const orders, clients = 500, 16
	s := sagatest.Start(t, sagatest.Options{Stock: 250})
	products := []string{"sku-1", "sku-2", "sku-3", "sku-4", "sku-5"}
	tokens := []string{"tok_visa", "tok_visa", "tok_visa", "tok_decline", "tok_flaky"}

	type placed struct {
		id    string
		items []schemas.OrderItem
	}
	var mu sync.Mutex
	var all []placed
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		for i := range orders {
			next <- i
		}
		close(next)
	}()
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			for range next {
				var items []schemas.OrderItem
				for range 1 + rng.IntN(3) {
					items = append(items, sagatest.Item(products[rng.IntN(len(products))], 1+rng.IntN(4)))
				}
				body, _ := json.Marshal(schemas.CreateOrder{CustomerID: fmt.Sprintf("c-%d", c), Items: items, PaymentToken: tokens[rng.IntN(len(tokens))]})
				r := s.Do(http.MethodPost, "/orders", body)
				if r.Status != http.StatusAccepted {
					t.Errorf("POST /orders: %d %s", r.Status, r.Body)
					return
				}
				var acc schemas.OrderAccepted
				r.JSON(t, &acc)
				mu.Lock()
				all = append(all, placed{acc.OrderID, items})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(all) != orders {
		t.Fatalf("%d of %d orders accepted", len(all), orders)
	}

	confirmed := map[string]int64{}
	statuses := map[string]int{}
	testkit.Eventually(t, 2*time.Minute, "every order settles", func() bool {
		for _, p := range all {
			if s.Order(p.id).Status == schemas.StatusPending {
				return false
			}
		}
		return true
	})
	charges := s.Charges()
	for _, p := range all {
		o := s.Order(p.id)
		statuses[o.Status]++
		if o.Status == schemas.StatusConfirmed {
			for _, it := range p.items {
				confirmed[it.ProductID] += int64(it.Quantity)
			}
			if charges.Charges[p.id] != 1 {
				t.Errorf("confirmed order %s charged %d times", p.id, charges.Charges[p.id])
			}
		} else if charges.Charges[p.id] > charges.Refunds[p.id] {
			t.Errorf("cancelled order %s charged %d, refunded %d", p.id, charges.Charges[p.id], charges.Refunds[p.id])
		}
	}
	for id, n := range charges.Charges {
		if n > 1 {
			t.Errorf("order %s charged %d times", id, n)
		}
	}
	testkit.Eventually(t, 30*time.Second, "stock adds up", func() bool {
		st := s.Stock()
		for _, id := range products {
			if st[id].Reserved != 0 || s.Initial[id] != st[id].Available+confirmed[id] {
				return false
			}
		}
		return true
	})
	st := s.Stock()
	for _, id := range products {
		t.Logf("%s: initial %d = available %d + confirmed %d; reserved %d", id, s.Initial[id], st[id].Available, confirmed[id], st[id].Reserved)
	}
	t.Logf("outcomes: %v", statuses)
	if statuses[schemas.StatusConfirmed] == 0 || statuses[schemas.StatusCancelled] == 0 {
		t.Errorf("want both outcomes in the mix, got %v", statuses)
	}
}
