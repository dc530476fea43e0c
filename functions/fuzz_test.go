package functions_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/runtime"
)

// FuzzGatewayCreateOrder throws arbitrary bodies and headers at POST /orders
// on the real gateway and orders function: client input never gets a 5xx,
// every answer is JSON, and a 400 names the field at fault.
func FuzzGatewayCreateOrder(f *testing.F) {
	seeds := []struct{ body, contentType, key, cid string }{
		{`{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`, "application/json", "", ""},
		{`{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}],"payment_token":"tok_decline"}`, "application/json; charset=utf-8", "k-1", "cid"},
		{`{"customer_id":"","items":[]}`, "application/json", "", ""},
		{`{"customer_id":"c","items":[{"product_id":"../etc","quantity":-5}]}`, "application/json", "", ""},
		{`{`, "application/json", "", ""},
		{`null`, "application/json", "", ""},
		{`{"customer_id":"c","items":[{"product_id":"a","quantity":1}]}`, "text/plain", "", ""},
		{`{"customer_id":"c","items":[{"product_id":"a","quantity":1e99}]}`, "application/json", "", ""},
		{`{"":""}`, "", "\x00", "\n"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.contentType, s.key, s.cid)
	}
	s := startSystem(f, options{services: []string{"orders"}})
	g, err := gateway.New(gateway.Config{}, s.nc, gateway.Routes())
	if err != nil {
		f.Fatal(err)
	}
	h := g.Handler()
	f.Fuzz(func(t *testing.T, body []byte, contentType, key, cid string) {
		req := httptest.NewRequest(http.MethodPost, "/orders", bytes.NewReader(body))
		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}
		if key != "" {
			req.Header["Idempotency-Key"] = []string{key}
		}
		if cid != "" {
			req.Header["X-Correlation-Id"] = []string{cid}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("client input got %d: %s", rec.Code, rec.Body)
		}
		var answer struct {
			OrderID string               `json:"order_id"`
			Error   string               `json:"error"`
			Details []runtime.FieldError `json:"details"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%d is not JSON: %q", rec.Code, rec.Body)
		}
		switch {
		case rec.Code == http.StatusAccepted && answer.OrderID == "":
			t.Fatalf("202 without an order id: %s", rec.Body)
		case rec.Code >= 400 && answer.Error == "":
			t.Fatalf("%d without an error message: %s", rec.Code, rec.Body)
		case rec.Code == http.StatusBadRequest:
			if len(answer.Details) == 0 {
				t.Fatalf("400 names no field: %s", rec.Body)
			}
			for _, d := range answer.Details {
				if d.Field == "" {
					t.Fatalf("400 detail without a field: %s", rec.Body)
				}
			}
		}
	})
}
