package functions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/sagatest"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/schemas"
)

// Hostile ids (as gateway/edge_test.go sends them over HTTP) sent straight
// to the functions over NATS, as `nats req` would: the request schema answers 400 with the field before any KV key
// is made of them.
func TestHostileIdsOverNATSAreClientErrors(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Services: []string{"orders", "inventory", "paysim"}})
	for _, tc := range []struct {
		subject, field string
		body           func(id string) any
	}{
		{schemas.SubjectGetOrder, "order_id", func(id string) any { return schemas.GetOrder{OrderID: id} }},
		{schemas.SubjectGetProduct, "product_id", func(id string) any { return schemas.GetProduct{ProductID: id} }},
		{schemas.SubjectCharge, "order_id", func(id string) any { return schemas.Charge{OrderID: id, Token: "tok_visa", AmountCents: 1} }},
		{schemas.SubjectRefund, "order_id", func(id string) any { return schemas.Refund{OrderID: id} }},
	} {
		for _, id := range []string{"*", ">", " ", "a b", "a.b", "a/b", "..", "\x00", "\n", strings.Repeat("x", 5000), ""} {
			t.Run(fmt.Sprintf("%s %q", tc.subject, id[:min(len(id), 8)]), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := client.Call[json.RawMessage](ctx, s.NC, tc.subject, tc.body(id))
				e := asRuntimeError(t, err)
				if e.Code != http.StatusBadRequest {
					t.Fatalf("%s with id %q: %d %s", tc.subject, id, e.Code, e)
				}
				for _, d := range e.Details {
					if d.Field == tc.field {
						return
					}
				}
				t.Fatalf("%s with id %q: 400 does not name %s: %s", tc.subject, id, tc.field, e)
			})
		}
	}
}

// Headers carry limits users know: an Idempotency-Key is at most 255
// printable characters (Stripe's rule), at the gateway and straight over
// NATS alike.
func TestIdempotencyKeyLimits(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Services: []string{"orders"}})
	body := []byte(`{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`)
	for _, tc := range []struct {
		name, key string
		status    int
	}{
		{"255 characters", strings.Repeat("k", 255), 202},
		{"256 characters", strings.Repeat("k", 256), 400},
		{"10,000 characters", strings.Repeat("k", 10000), 400},
		{"tab", "a\tb", 400},
		{"non-UTF-8", "a\xffb", 400},
		{"unicode letters", "clé-1", 202},
	} {
		t.Run("http "+tc.name, func(t *testing.T) {
			r := s.Do(http.MethodPost, "/orders", body, schemas.HeaderIdempotencyKey, tc.key)
			if r.Status != tc.status {
				t.Fatalf("Idempotency-Key %q: %d %s; want %d", tc.key[:min(len(tc.key), 20)], r.Status, r.Body, tc.status)
			}
			if r.Status == 400 {
				if msg, _ := r.Problem(t); !strings.Contains(msg, "Idempotency-Key") {
					t.Fatalf("400 does not name the header: %s", r.Body)
				}
			}
		})
	}
	for _, key := range []string{strings.Repeat("k", 256), "a\x01b", "a\x7fb"} {
		t.Run(fmt.Sprintf("nats %q", key[:min(len(key), 8)]), func(t *testing.T) {
			msg := nats.NewMsg(schemas.SubjectCreateOrder)
			msg.Data = body
			msg.Header.Set(schemas.HeaderIdempotencyKey, key)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := client.Request(ctx, s.NC, msg)
			e := asRuntimeError(t, err)
			if e.Code != http.StatusBadRequest || !strings.Contains(e.Error(), "Idempotency-Key") {
				t.Fatalf("Idempotency-Key %q over NATS: %d %s", key[:min(len(key), 8)], e.Code, e)
			}
		})
	}
}

// A correlation id sent straight over NATS that is too long or not
// printable is replaced by a fresh one, which the reply names; the raw value
// reaches no log line. (The gateway does the same: gateway/edge_test.go.)
func TestHostileCorrelationIDsOverNATSAreReplaced(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Services: []string{"orders", "inventory"}})
	for _, cid := range []string{strings.Repeat("c", 129), "a b", "\x1b[2J"} {
		msg := nats.NewMsg(schemas.SubjectListProducts)
		msg.Data = []byte(`{}`)
		msg.Header.Set(client.HeaderCorrelationID, cid)
		reply, err := s.NC.RequestMsg(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if used := reply.Header.Get(client.HeaderCorrelationID); used == "" || used == cid {
			t.Fatalf("correlation id %q over NATS answered as %q; want a fresh one", cid, used)
		}
	}
	if strings.Contains(s.Logs.String(), "\x1b[2J") || strings.Contains(s.Logs.String(), strings.Repeat("c", 129)) {
		t.Fatal("a hostile correlation id reached the logs")
	}
}

func asRuntimeError(t *testing.T, err error) *natsfn.Error {
	t.Helper()
	var e *natsfn.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *natsfn.Error, got %T: %v", err, err)
	}
	return e
}
