package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/internal/sagatest"
	natsfn "github.com/natsfn/natsfn/runtime"
)

type slowIn struct {
	MS int `json:"ms"`
}

// slowService answers after the asked delay: for 504 and 429.
func slowService() natsfn.Service {
	return natsfn.Service{Name: "slow", Version: "1.0.0", Functions: []*natsfn.Function{
		natsfn.Func(natsfn.FuncConfig{Name: "wait", Subject: "slow.wait", Concurrency: 16}, func(ctx context.Context, in slowIn) (slowIn, error) {
			select {
			case <-time.After(time.Duration(in.MS) * time.Millisecond):
			case <-ctx.Done():
			}
			return in, nil
		}),
	}}
}

func TestGatewayErrorStatuses(t *testing.T) {
	routes := append(functions.Routes(),
		gateway.Route{Method: http.MethodPost, Path: "/slow", Subject: "slow.wait", Body: true, Status: 200, In: slowIn{}, Out: slowIn{}},
		gateway.Route{Method: http.MethodPost, Path: "/nobody", Subject: "nobody.home", Body: true, Status: 200, In: slowIn{}, Out: slowIn{}},
	)
	s := sagatest.Start(t, sagatest.Options{Routes: routes, Extra: []natsfn.Service{slowService()},
		Gateway: gateway.Config{RequestTimeout: 300 * time.Millisecond}})

	big := append([]byte(`{"customer_id":"`), bytes.Repeat([]byte("x"), 1<<20+10)...)
	big = append(big, []byte(`","items":[]}`)...)
	cases := []struct {
		name, method, path, contentType string
		body                            []byte
		status                          int
		says                            string
	}{
		{"invalid JSON", "POST", "/orders", "application/json", []byte(`{"customer_id":`), 400, `"field":"body"`},
		{"schema violation", "POST", "/orders", "application/json", []byte(`{"customer_id":"c","items":[]}`), 400, `"field":"items"`},
		{"wrong type", "POST", "/orders", "application/json", []byte(`{"customer_id":5,"items":[{"product_id":"a","quantity":1}]}`), 400, `"field":"customer_id"`},
		{"unknown field", "POST", "/orders", "application/json", []byte(`{"customer_id":"c","items":[{"product_id":"a","quantity":1}],"coupon":"x"}`), 400, `"field":"coupon"`},
		{"too many items", "POST", "/orders", "application/json", []byte(`{"customer_id":"c","items":[` + strings.Repeat(`{"product_id":"a","quantity":1},`, 50) + `{"product_id":"a","quantity":1}]}`), 400, `maxItems`},
		{"quantity too high", "POST", "/orders", "application/json", []byte(`{"customer_id":"c","items":[{"product_id":"a","quantity":1001}]}`), 400, `items.0.quantity`},
		{"empty body", "POST", "/orders", "application/json", nil, 400, `empty`},
		{"not JSON", "POST", "/orders", "text/plain", []byte(`hello`), 415, "application/json"},
		{"no content type", "POST", "/orders", "", []byte(`{}`), 415, "Content-Type"},
		{"too large", "POST", "/orders", "application/json", big, 413, "limit"},
		{"unknown order", "GET", "/orders/does-not-exist", "", nil, 404, "no order does-not-exist"},
		{"unknown product", "GET", "/products/nope", "", nil, 404, "no product nope"},
		{"unknown path", "GET", "/nowhere", "", nil, 404, "no route"},
		{"wrong method", "DELETE", "/orders", "", nil, 405, "not allowed"},
		{"wrong method on item", "PUT", "/orders/x", "", nil, 405, "not allowed"},
		{"function too slow", "POST", "/slow", "application/json", []byte(`{"ms":2000}`), 504, "in time"},
		{"nobody serves it", "POST", "/nobody", "application/json", []byte(`{"ms":1}`), 503, "no function"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, s.URL+c.path, bytes.NewReader(c.body))
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p struct {
				Error   string              `json:"error"`
				Details []natsfn.FieldError `json:"details"`
			}
			raw := new(bytes.Buffer)
			_, _ = raw.ReadFrom(resp.Body)
			if err := json.Unmarshal(raw.Bytes(), &p); err != nil || p.Error == "" {
				t.Fatalf("%d: body is not a JSON error: %s", resp.StatusCode, raw)
			}
			if resp.StatusCode != c.status || !strings.Contains(raw.String(), c.says) {
				t.Fatalf("got %d %s; want %d mentioning %q", resp.StatusCode, raw, c.status, c.says)
			}
			if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Correlation-ID") == "" {
				t.Fatalf("headers: %v", resp.Header)
			}
		})
	}
	if r := s.Do(http.MethodDelete, "/orders", nil); r.Header.Get("Allow") != "POST" {
		t.Errorf("405 without Allow: %v", r.Header)
	}
}

func TestGatewaySheddsLoadWith429(t *testing.T) {
	routes := append(functions.Routes(), gateway.Route{Method: http.MethodPost, Path: "/slow", Subject: "slow.wait", Body: true, Status: 200, In: slowIn{}, Out: slowIn{}})
	s := sagatest.Start(t, sagatest.Options{Routes: routes, Extra: []natsfn.Service{slowService()}, Gateway: gateway.Config{MaxInFlight: 2}})
	var wg sync.WaitGroup
	statuses := make(chan int, 8)
	for range 8 {
		wg.Go(func() {
			statuses <- s.Do(http.MethodPost, "/slow", []byte(`{"ms":500}`)).Status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for st := range statuses {
		counts[st]++
	}
	if counts[200] < 1 || counts[429] < 1 || counts[200]+counts[429] != 8 {
		t.Fatalf("statuses %v; want some 200 and the rest 429", counts)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{})
	r := s.Do(http.MethodGet, "/openapi.json", nil)
	if r.Status != 200 {
		t.Fatalf("%d", r.Status)
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	r.JSON(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	for _, rt := range functions.Routes() {
		if _, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s missing", rt.Method, rt.Path)
		}
	}
	create := doc.Components.Schemas["CreateOrder"]
	props, _ := create["properties"].(map[string]any)
	if _, ok := props["payment_token"]; !ok {
		t.Fatalf("CreateOrder schema: %v", create)
	}
	// Every $ref points at a schema in the document.
	for _, ref := range refs(r.Body) {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("dangling $ref %s", ref)
		}
	}
}

func refs(doc []byte) []string {
	var out []string
	for _, part := range strings.Split(string(doc), `"$ref": "`)[1:] {
		out = append(out, part[:strings.Index(part, `"`)])
	}
	return out
}

func TestGatewayAnswers503WhenNATSIsDown(t *testing.T) {
	s := sagatest.Start(t, sagatest.Options{})
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
	r := s.Do(http.MethodPost, "/orders", []byte(`{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`))
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "NATS") {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	if r := s.Do(http.MethodGet, "/readyz", nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with NATS down: %d", r.Status)
	}
	if r := s.Do(http.MethodGet, "/healthz", nil); r.Status != http.StatusOK {
		t.Fatalf("/healthz: %d", r.Status)
	}
}
