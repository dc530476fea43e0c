// Package sagatest is the whole order saga on an embedded NATS, as `natsfn
// local` runs it, with the gateway on an httptest server: the one harness of
// the system tests and benchmarks.
//
// Start serves every function (or the ones named), seeds the demo catalog
// and puts the gateway in front; System then speaks HTTP to the API (Do,
// PlaceOrder, Order, Settle) and reads the state behind it (Stock, Charges,
// ConsumerIdle). The zero Options are the tests' fast settings: retries and
// backoffs take milliseconds, and the logs are kept for the test to read.
package sagatest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/functions"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payment"
	"github.com/natsfn/natsfn/functions/paysim"
	"github.com/natsfn/natsfn/gateway"
	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/schemas"
)

// Options shape the system; every zero value takes the default named.
type Options struct {
	Services  []string         // the functions.Names() to serve; default all
	Orders    orders.Config    // the orders service's settings
	Inventory inventory.Config // the inventory service's (its watch and schedule are off unless set)
	Sim       paysim.Config    // the payment provider simulator's behaviour
	Gateway   gateway.Config
	Routes    []gateway.Route  // default functions.Routes()
	Extra     []natsfn.Service // served next to the saga's, e.g. a test's own
	Stock     int64            // units of each demo product; default (and at least) 10
	// Concurrency is the runtime's invocations at once per function;
	// default 8.
	Concurrency int
	// Events default to FastEvents(); set any field to take the runtime's
	// defaults for the others instead.
	Events natsfn.EventsConfig
	// TracerProvider, if set, traces the runtime and the gateway (tests of
	// traces use the SDK's in-memory exporter).
	TracerProvider trace.TracerProvider
	// Quiet discards the logs (benchmarks); otherwise they are kept, as JSON
	// lines at info level, in System.Logs.
	Quiet bool
}

// FastEvents are the tests' event settings: retries and backoffs take
// milliseconds, and a lost delivery comes back in two seconds.
func FastEvents() natsfn.EventsConfig {
	return natsfn.EventsConfig{AckWait: 2 * time.Second, MaxDeliver: 4, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
}

// fastPayment retries the provider and reopens its circuit in milliseconds.
func fastPayment() payment.Config {
	return payment.Config{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, BreakerDelay: 200 * time.Millisecond}
}

// System is the running saga, stopped when the test ends.
type System struct {
	tb      testing.TB
	Server  *server.Server // the embedded NATS; shut it down for an outage
	Runtime *natsfn.Runtime
	URL     string              // the HTTP API
	NC      *nats.Conn          // the test's own connection
	JS      jetstream.JetStream // on NC
	Sim     *paysim.Provider    // the payment provider the saga charges
	Logs    *testkit.Buffer     // the runtime's and the gateway's log lines
	Initial map[string]int64    // each product's stock once seeded
}

// Start runs the system until tb ends.
func Start(tb testing.TB, o Options) *System {
	tb.Helper()
	srv := testkit.StartNATS(tb)
	s := &System{tb: tb, Server: srv, Sim: testkit.Must(paysim.New(o.Sim)), Logs: &testkit.Buffer{}, Initial: map[string]int64{}}
	s.NC = testkit.Connect(tb, srv.ClientURL())
	s.JS, _ = jetstream.New(s.NC)

	all := testkit.Must(functions.All(functions.Config{Orders: o.Orders, Inventory: o.Inventory, Sim: s.Sim, Payment: fastPayment()}))
	names := o.Services
	if names == nil {
		names = functions.Names()
	}
	svcs := append([]natsfn.Service{}, o.Extra...)
	for _, n := range names {
		svc, ok := all[n]
		if !ok {
			tb.Fatalf("sagatest: no service %q; the saga's are %s", n, strings.Join(functions.Names(), ", "))
		}
		svcs = append(svcs, svc)
	}
	log := zerolog.Nop()
	if !o.Quiet {
		log = zerolog.New(s.Logs).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	}
	events := o.Events
	if events == (natsfn.EventsConfig{}) {
		events = FastEvents()
	}
	concurrency := o.Concurrency
	if concurrency == 0 {
		concurrency = 8
	}
	rt, err := natsfn.New(natsfn.Config{URL: srv.ClientURL(), Logger: &log, Events: events, Concurrency: concurrency,
		TracerProvider: o.TracerProvider}, svcs...)
	if err != nil {
		tb.Fatal(err)
	}
	testkit.Serve(tb, rt)
	s.Runtime = rt

	catalog := inventory.DemoCatalog(max(o.Stock, 10))
	if _, err := inventory.Seed(context.Background(), s.JS, catalog); err != nil {
		tb.Fatal(err)
	}
	for _, p := range catalog {
		s.Initial[p.ProductID] = p.Available
	}
	routes := o.Routes
	if routes == nil {
		routes = functions.Routes()
	}
	// As natsfn local: the gateway shares the runtime's connection and
	// metrics.
	gcfg := o.Gateway
	gcfg.Logger = &log
	if gcfg.Metrics == nil {
		gcfg.Metrics = rt.Metrics()
	}
	if gcfg.TracerProvider == nil {
		gcfg.TracerProvider = o.TracerProvider
	}
	g, err := gateway.New(gcfg, rt.Conn(), routes)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(g.Handler())
	tb.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test unless it is JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d is not JSON: %s", r.Status, r.Body)
	}
}

// Problem reads a JSON error answer, failing the test unless it is one.
func (r Response) Problem(t testing.TB) (string, []natsfn.FieldError) {
	t.Helper()
	var p struct {
		Error   string              `json:"error"`
		Details []natsfn.FieldError `json:"details"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil || p.Error == "" {
		t.Fatalf("%d is not a JSON error: %q", r.Status, r.Body)
	}
	return p.Error, p.Details
}

// Do sends a request to the API; a body is sent as JSON, and headers come
// in name, value pairs (a Content-Type among them wins).
func (s *System) Do(method, path string, body []byte, headers ...string) Response {
	s.tb.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		s.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{resp.StatusCode, resp.Header, b}
}

// PlaceOrder posts an order by customer c-1 and returns its id; anything
// but a 202 fails the test.
func (s *System) PlaceOrder(token string, items ...schemas.OrderItem) string {
	s.tb.Helper()
	body, _ := json.Marshal(schemas.CreateOrder{CustomerID: "c-1", Items: items, PaymentToken: token})
	r := s.Do(http.MethodPost, "/orders", body)
	if r.Status != http.StatusAccepted {
		s.tb.Fatalf("POST /orders: %d %s", r.Status, r.Body)
	}
	var acc schemas.OrderAccepted
	r.JSON(s.tb, &acc)
	return acc.OrderID
}

// Order reads an order through the API.
func (s *System) Order(id string) schemas.Order {
	s.tb.Helper()
	r := s.Do(http.MethodGet, "/orders/"+id, nil)
	if r.Status != http.StatusOK {
		s.tb.Fatalf("GET /orders/%s: %d %s", id, r.Status, r.Body)
	}
	var o schemas.Order
	r.JSON(s.tb, &o)
	return o
}

// Settle waits until the order leaves pending and returns it.
func (s *System) Settle(id string) schemas.Order {
	s.tb.Helper()
	var o schemas.Order
	testkit.Eventually(s.tb, 20*time.Second, "order "+id+" settles", func() bool {
		o = s.Order(id)
		return o.Status != schemas.StatusPending
	})
	return o
}

// Stock reads every product from the inventory bucket, by id.
func (s *System) Stock() map[string]schemas.Product {
	s.tb.Helper()
	list, err := inventory.Stock(context.Background(), s.JS)
	if err != nil {
		s.tb.Fatal(err)
	}
	out := map[string]schemas.Product{}
	for _, p := range list {
		out[p.ProductID] = p
	}
	return out
}

// Charges are the provider's successful charges and refunds per order.
func (s *System) Charges() schemas.ChargeCountsResult {
	c, _ := s.Sim.Counts(context.Background(), schemas.ChargeCounts{})
	return c
}

// ConsumerIdle reports whether a function's consumer has nothing left to
// deliver or to see acknowledged.
func (s *System) ConsumerIdle(durable string) bool {
	c, err := s.JS.Consumer(context.Background(), "ORDERS", durable)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}

// Item is one line of an order.
func Item(id string, q int) schemas.OrderItem { return schemas.OrderItem{ProductID: id, Quantity: q} }

// Answer is what every reply of the API or of a function must decode as:
// a result (an accepted order's id) or a JSON error naming the problem.
type Answer struct {
	OrderID string              `json:"order_id"`
	Error   string              `json:"error"`
	Details []natsfn.FieldError `json:"details"`
}

// CheckProblem holds an error answer to the property every edge shares: a
// message, a field on every detail, and a 400 names a field, the path or a
// header.
func CheckProblem(t testing.TB, code int, a Answer, raw []byte) {
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
