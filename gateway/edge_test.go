package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/runtime/client"
)

// rawGet sends a request line exactly as given (no client-side cleaning or
// escaping), as a hostile client would.
func rawGet(t *testing.T, base, target string) sagatest.Response {
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
	return sagatest.Response{Status: resp.StatusCode, Header: resp.Header, Body: []byte(sb.String())}
}

// Ids in paths and requests reach KV keys and subjects: whatever a caller
// puts there is a 400 naming the field or a 404, always JSON, never a 500.
func TestHostileIdsAreClientErrors(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Services: []string{"orders", "inventory"}})
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
			r := rawGet(t, s.URL, tc.target)
			ok := false
			for _, st := range tc.status {
				ok = ok || r.Status == st
			}
			if !ok {
				t.Fatalf("GET %s = %d %s; want %v", tc.target, r.Status, r.Body, tc.status)
			}
			msg, details := r.Problem(t)
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

// A correlation id that is too long or not printable is replaced by a fresh
// one, which the response names; the raw value reaches no log line. (The
// functions do the same over NATS: functions/edge_test.go.)
func TestHostileCorrelationIDsAreReplaced(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Services: []string{"orders", "inventory"}})
	for _, cid := range []string{strings.Repeat("c", 129), "a b", "a\tb", "évil"} {
		r := s.Do(http.MethodGet, "/products", nil, client.HeaderCorrelationID, cid)
		if r.Status != http.StatusOK {
			t.Fatalf("GET /products with correlation id %q: %d %s", cid, r.Status, r.Body)
		}
		used := r.Header.Get(client.HeaderCorrelationID)
		if used == "" || used == cid {
			t.Fatalf("correlation id %q kept as %q; want a fresh one", cid, used)
		}
	}
	if strings.Contains(s.Logs.String(), strings.Repeat("c", 129)) {
		t.Fatal("a hostile correlation id reached the logs")
	}
	// A good one is kept.
	r := s.Do(http.MethodGet, "/products", nil, client.HeaderCorrelationID, "req-42_a.b:c")
	if got := r.Header.Get(client.HeaderCorrelationID); got != "req-42_a.b:c" {
		t.Fatalf("a well-formed correlation id came back as %q", got)
	}
}

// JSON with media-type parameters is JSON; anything else is a 415.
func TestContentTypes(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{Services: []string{"orders"}})
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
		r := s.Do(http.MethodPost, "/orders", body, "Content-Type", ct)
		if r.Status != want {
			t.Errorf("Content-Type %q: %d %s; want %d", ct, r.Status, r.Body, want)
			continue
		}
		if want == 415 {
			if msg, _ := r.Problem(t); !strings.Contains(msg, "application/json") {
				t.Errorf("415 does not say what to send: %s", r.Body)
			}
		}
	}
}
