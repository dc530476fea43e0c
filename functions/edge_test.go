package functions_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/schemas"
)

// problemOf reads a JSON error answer and fails unless it is one.
func problemOf(t *testing.T, r response) (string, []natsfn.FieldError) {
	t.Helper()
	var p struct {
		Error   string              `json:"error"`
		Details []natsfn.FieldError `json:"details"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil || p.Error == "" {
		t.Fatalf("%d is not a JSON error: %q", r.status, r.body)
	}
	return p.Error, p.Details
}

// rawGet sends a request line exactly as given (no client-side cleaning or
// escaping), as a hostile client would.
func rawGet(t *testing.T, base, target string) response {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
	return response{resp.StatusCode, resp.Header, []byte(sb.String())}
}

// Ids in paths and requests reach KV keys and subjects: whatever a caller
// puts there is a 400 naming the field or a 404, always JSON, never a 500.
func TestHostileIdsAreClientErrors(t *testing.T) {
	s := startSystem(t, options{services: []string{"orders", "inventory"}})
	long := strings.Repeat("a", 5000)
	for _, tc := range []struct {
		name, target string
		status       []int
		field        string
	}{
		{"star", "/orders/*", []int{400}, "order_id"},
		{"gt", "/products/%3E", []int{400}, "product_id"},
		{"gt raw", "/products/>", []int{400}, "product_id"},
		{"space", "/orders/%20", []int{400}, "order_id"},
		{"space inside", "/products/sku%201", []int{400}, "product_id"},
		{"dot", "/orders/a.b", []int{400}, "order_id"},
		{"encoded slash", "/orders/a%2Fb", []int{400}, "order_id"},
		{"slash", "/orders/a/b", []int{404}, ""},
		{"dot dot", "/orders/..", []int{400, 404}, ""},
		{"dot dot inside", "/products/../orders/x", []int{400, 404}, ""},
		{"NUL", "/orders/%00", []int{400}, "order_id"},
		{"control", "/products/%1b%5b2J", []int{400}, "product_id"},
		{"5000 characters", "/orders/" + long, []int{400}, "order_id"},
		{"unicode", "/products/%C3%A9", []int{400}, "product_id"},
		{"well formed but unknown", "/orders/no-such-order", []int{404}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rawGet(t, s.url, tc.target)
			ok := false
			for _, st := range tc.status {
				ok = ok || r.status == st
			}
			if !ok {
				t.Fatalf("GET %s = %d %s; want %v", tc.target, r.status, r.body, tc.status)
			}
			msg, details := problemOf(t, r)
			if tc.field == "" {
				return
			}
			for _, d := range details {
				if d.Field == tc.field {
					return
				}
			}
			t.Fatalf("GET %s: 400 %q does not name %s: %+v", tc.target, msg, tc.field, details)
		})
	}
}

// The same ids sent straight to the functions over NATS, as `nats req`
// would: the request schema answers 400 with the field before any KV key
// is made of them.
func TestHostileIdsOverNATSAreClientErrors(t *testing.T) {
	s := startSystem(t, options{services: []string{"orders", "inventory", "paysim"}})
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
				_, err := client.Call[json.RawMessage](ctx, s.nc, tc.subject, tc.body(id))
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
	s := startSystem(t, options{services: []string{"orders"}})
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
			r := s.do(http.MethodPost, "/orders", body, schemas.HeaderIdempotencyKey, tc.key)
			if r.status != tc.status {
				t.Fatalf("Idempotency-Key %q: %d %s; want %d", tc.key[:min(len(tc.key), 20)], r.status, r.body, tc.status)
			}
			if r.status == 400 {
				if msg, _ := problemOf(t, r); !strings.Contains(msg, "Idempotency-Key") {
					t.Fatalf("400 does not name the header: %s", r.body)
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
			_, err := client.Request(ctx, s.nc, msg)
			e := asRuntimeError(t, err)
			if e.Code != http.StatusBadRequest || !strings.Contains(e.Error(), "Idempotency-Key") {
				t.Fatalf("Idempotency-Key %q over NATS: %d %s", key[:min(len(key), 8)], e.Code, e)
			}
		})
	}
}

// A correlation id that is too long or not printable is replaced by a fresh
// one, which the response names; the raw value reaches no log line.
func TestHostileCorrelationIDsAreReplaced(t *testing.T) {
	s := startSystem(t, options{services: []string{"orders", "inventory"}})
	for _, cid := range []string{strings.Repeat("c", 129), "a b", "a\tb", "évil"} {
		r := s.do(http.MethodGet, "/products", nil, client.HeaderCorrelationID, cid)
		if r.status != http.StatusOK {
			t.Fatalf("GET /products with correlation id %q: %d %s", cid, r.status, r.body)
		}
		used := r.header.Get(client.HeaderCorrelationID)
		if used == "" || used == cid {
			t.Fatalf("correlation id %q kept as %q; want a fresh one", cid, used)
		}
	}
	// Straight over NATS, the function does the same.
	for _, cid := range []string{strings.Repeat("c", 129), "a b", "\x1b[2J"} {
		msg := nats.NewMsg(schemas.SubjectListProducts)
		msg.Data = []byte(`{}`)
		msg.Header.Set(client.HeaderCorrelationID, cid)
		reply, err := s.nc.RequestMsg(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if used := reply.Header.Get(client.HeaderCorrelationID); used == "" || used == cid {
			t.Fatalf("correlation id %q over NATS answered as %q; want a fresh one", cid, used)
		}
	}
	if strings.Contains(s.logs.String(), "\x1b[2J") || strings.Contains(s.logs.String(), strings.Repeat("c", 129)) {
		t.Fatal("a hostile correlation id reached the logs")
	}
	// A good one is kept.
	r := s.do(http.MethodGet, "/products", nil, client.HeaderCorrelationID, "req-42_a.b:c")
	if got := r.header.Get(client.HeaderCorrelationID); got != "req-42_a.b:c" {
		t.Fatalf("a well-formed correlation id came back as %q", got)
	}
}

// JSON with media-type parameters is JSON; anything else is a 415.
func TestContentTypes(t *testing.T) {
	s := startSystem(t, options{services: []string{"orders"}})
	body := []byte(`{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`)
	for ct, want := range map[string]int{
		"application/json":                  202,
		"application/json; charset=utf-8":   202,
		"application/json;charset=UTF-8":    202,
		"Application/JSON; charset=utf-8":   202,
		"application/json; foo=bar; q=1":    202,
		"text/plain":                        415,
		"application/xml; charset=utf-8":    415,
		"application/x-www-form-urlencoded": 415,
		"application/json; charset=latin1":  415,
		"application/json; charset=\"utf-8": 415,
		"json":                              415,
	} {
		r := s.do(http.MethodPost, "/orders", body, "Content-Type", ct)
		if r.status != want {
			t.Errorf("Content-Type %q: %d %s; want %d", ct, r.status, r.body, want)
			continue
		}
		if want == 415 {
			if msg, _ := problemOf(t, r); !strings.Contains(msg, "application/json") {
				t.Errorf("415 does not say what to send: %s", r.body)
			}
		}
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
