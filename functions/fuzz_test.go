package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/schemas"
)

// answer is what every reply must decode as: a result or a JSON error
// naming the problem.
type answer struct {
	OrderID string              `json:"order_id"`
	Error   string              `json:"error"`
	Details []natsfn.FieldError `json:"details"`
}

// checkProblem holds an error answer to the property every edge shares:
// a message, and a field on every detail.
func checkProblem(t *testing.T, code int, a answer, raw []byte) {
	t.Helper()
	if a.Error == "" {
		t.Fatalf("%d without an error message: %q", code, raw)
	}
	for _, d := range a.Details {
		if d.Field == "" {
			t.Fatalf("%d detail without a field: %q", code, raw)
		}
	}
	if code == http.StatusBadRequest && len(a.Details) == 0 && !strings.Contains(a.Error, "path") && !strings.Contains(a.Error, "header") {
		t.Fatalf("400 names neither a field nor the path: %q", raw)
	}
}

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
	s := startSystem(f, options{services: []string{"orders", "inventory"}})
	routes := functions.Routes()
	g, err := gateway.New(gateway.Config{}, s.nc, routes)
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
		var a answer
		_ = json.Unmarshal(rec.Body.Bytes(), &a) // a list is a fine answer too
		switch {
		case rec.Code == http.StatusAccepted && a.OrderID == "":
			t.Fatalf("202 without an order id: %s", rec.Body)
		case rec.Code >= 400:
			checkProblem(t, rec.Code, a, rec.Body.Bytes())
		}
		if used := rec.Header().Get(client.HeaderCorrelationID); used != client.SafeCorrelationID(used) {
			t.Fatalf("answered with correlation id %q, which cannot travel as is", used)
		}
	})
}

// requestSubjects lists the subject of every function of the application:
// what `nats micro info` names and `nats req` can reach.
func requestSubjects(sim *paysim.Provider) []string {
	var subjects []string
	all := testkit.Must(functions.All(functions.Config{Sim: sim}))
	for _, name := range functions.Names() {
		svc := all[name]
		for _, fn := range svc.Functions {
			subj := fn.Subject
			if subj == "" {
				subj = svc.Name + "." + fn.Name
			}
			subjects = append(subjects, subj)
		}
	}
	return subjects
}

// fuzzHeaders are the headers a caller can set that the runtime or a
// function reads.
var fuzzHeaders = []string{client.HeaderCorrelationID, schemas.HeaderIdempotencyKey, nats.MsgIdHdr,
	"traceparent", "Natsfn-Delivery", "Natsfn-Input-Id", "ce-id", "ce-type", "ce-specversion"}

// FuzzFunctionRequests sends arbitrary bytes and headers straight to each
// function's request subject over NATS, as `nats req` would: never a 5xx,
// never a panic (the reply would not come), always a JSON error naming the
// problem. The one 5xx allowed is the sandbox token tok_flaky's simulated
// card network timeout, which is that token's whole point.
func FuzzFunctionRequests(f *testing.F) {
	s := startSystem(f, options{})
	subjects := requestSubjects(s.sim)
	valid := map[string]string{
		schemas.SubjectCreateOrder:  `{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}]}`,
		schemas.SubjectGetOrder:     `{"order_id":"x"}`,
		schemas.SubjectGetProduct:   `{"product_id":"sku-1"}`,
		schemas.SubjectListProducts: `{}`,
		schemas.SubjectCharge:       `{"order_id":"o-1","token":"tok_visa","amount_cents":100}`,
		schemas.SubjectRefund:       `{"order_id":"o-1"}`,
		schemas.SubjectSimulate:     `{"latency_ms":0,"failure_rate":0}`,
		"inventory.reserve":         `{"order_id":"o-2","customer_id":"c","items":[{"product_id":"sku-1","quantity":1}],"payment_token":"tok_visa"}`,
		"payment.charge":            `{"order_id":"o-3","total_cents":100,"payment_token":"tok_visa"}`,
		"orders.confirm":            `{"order_id":"o-4","amount_cents":1,"charge_id":"ch"}`,
	}
	for i, subj := range subjects {
		body := valid[subj]
		f.Add(uint8(i), []byte(body), uint8(0), "")
		f.Add(uint8(i), []byte(`{"order_id":"*","product_id":">"}`), uint8(1), strings.Repeat("k", 300))
		f.Add(uint8(i), []byte("\x00\xff{"), uint8(0), "\x1b[2J")
		f.Add(uint8(i), []byte(`[]`), uint8(4), "9/1")
	}
	f.Fuzz(func(t *testing.T, subject uint8, body []byte, header uint8, value string) {
		defer s.sim.SetBehaviour(paysim.Config{}) // a simulate call lasts one input
		subj := subjects[int(subject)%len(subjects)]
		msg := nats.NewMsg(subj)
		msg.Data = body
		// A NATS header is a line: CR and LF cannot be sent, by any client.
		value = strings.NewReplacer("\r", "", "\n", "").Replace(value)
		if value != "" {
			msg.Header.Set(fuzzHeaders[int(header)%len(fuzzHeaders)], value)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reply, err := s.nc.RequestMsgWithContext(ctx, msg)
		if err != nil {
			t.Fatalf("%s: no answer (%v): a panic or a hang", subj, err)
		}
		code := reply.Header.Get(micro.ErrorCodeHeader)
		if !json.Valid(reply.Data) {
			t.Fatalf("%s answered %s with no JSON: %q", subj, code, reply.Data)
		}
		if code == "" {
			return
		}
		var a answer
		if err := json.Unmarshal(reply.Data, &a); err != nil {
			t.Fatalf("%s: error %s is not a JSON object: %q", subj, code, reply.Data)
		}
		n, err := strconv.Atoi(code)
		if err != nil {
			t.Fatalf("%s: error code %q is not a number", subj, code)
		}
		if n >= 500 {
			if subj == schemas.SubjectCharge && a.Error == "card network timeout, try again" {
				return // tok_flaky
			}
			t.Fatalf("%s: input %q got %s %q", subj, body, code, reply.Data)
		}
		checkProblem(t, n, a, reply.Data)
	})
}
