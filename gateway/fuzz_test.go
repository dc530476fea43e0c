package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/internal/sagatest"
	"github.com/natsfn/natsfn/runtime/client"
)

// FuzzGateway picks a route, a method, the path parameter, the headers and
// the body, and sends them to the real gateway in front of the real
// functions: client input never gets a 5xx or a panic, every answer is
// JSON, every error names the problem.
func FuzzGateway(f *testing.F) {
	seeds := []struct {
		route         uint8
		method, param string
		body          string
		ct, key, cid  string
	}{
		{0, "POST", "", `{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`, "application/json", "", ""},
		{0, "POST", "", `{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}],"payment_token":"tok_decline"}`, "application/json; charset=utf-8", "k-1", "cid"},
		{0, "POST", "", `{"customer_id":"","items":[]}`, "application/json", "", ""},
		{0, "POST", "", `{"customer_id":"c","items":[{"product_id":"../etc","quantity":-5}]}`, "application/json", "", ""},
		{0, "POST", "", `{`, "application/json", "", ""},
		{0, "POST", "", `null`, "application/json", "", ""},
		{0, "POST", "", `{"customer_id":"c","items":[{"product_id":"a","quantity":1}]}`, "text/plain", "", ""},
		{0, "POST", "", `{"customer_id":"c","items":[{"product_id":"a","quantity":1e99}]}`, "application/json", "", ""},
		{0, "POST", "", `{"":""}`, "", "\x00", "\n"},
		{0, "POST", "", `{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`, "application/json; charset=latin1", strings.Repeat("k", 300), strings.Repeat("c", 200)},
		{1, "GET", "*", ``, "", "", ""},
		{1, "GET", ">", ``, "", "", ""},
		{1, "GET", "..", ``, "", "", ""},
		{1, "GET", "a/b", ``, "", "", "a b"},
		{1, "GET", "\x00", ``, "", "", ""},
		{1, "GET", strings.Repeat("x", 5000), ``, "", "", ""},
		{1, "DELETE", "x", ``, "", "", ""},
		{2, "GET", "", ``, "", "", "\x1b[2J"},
		{3, "GET", "sku-1", ``, "", "", ""},
		{3, "GET", "sku 1", ``, "", "", ""},
		{3, "PUT", "sku-1", `{}`, "application/json", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.route, s.method, s.param, []byte(s.body), s.ct, s.key, s.cid)
	}
	s := sagatest.Start(f, sagatest.Options{Services: []string{"orders", "inventory"}})
	routes := functions.Routes()
	g, err := gateway.New(gateway.Config{}, s.NC, routes)
	if err != nil {
		f.Fatal(err)
	}
	h := g.Handler()
	f.Fuzz(func(t *testing.T, route uint8, method, param string, body []byte, contentType, key, cid string) {
		rt := routes[int(route)%len(routes)]
		path := strings.ReplaceAll(rt.Path, "{order_id}", url.PathEscape(param))
		path = strings.ReplaceAll(path, "{product_id}", url.PathEscape(param))
		u, err := url.Parse(path)
		if err != nil {
			return // not a request line any client could send
		}
		if method == "" || strings.ContainsAny(method, " \t\r\n") {
			method = rt.Method
		}
		req := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
		req.Method, req.URL, req.RequestURI = method, u, u.RequestURI()
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
			t.Fatalf("%s %s: client input got %d: %s", method, path, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: %d is not JSON: %q", method, path, rec.Code, rec.Body)
		}
		var a sagatest.Answer
		_ = json.Unmarshal(rec.Body.Bytes(), &a) // a list is a fine answer too
		switch {
		case rec.Code == http.StatusAccepted && a.OrderID == "":
			t.Fatalf("202 without an order id: %s", rec.Body)
		case rec.Code >= 400:
			sagatest.CheckProblem(t, rec.Code, a, rec.Body.Bytes())
		}
		if used := rec.Header().Get(client.HeaderCorrelationID); used != client.SafeCorrelationID(used) {
			t.Fatalf("answered with correlation id %q, which cannot travel as is", used)
		}
	})
}
