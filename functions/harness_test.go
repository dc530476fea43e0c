package functions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

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

// system is the whole application on one embedded NATS, as `natsfn local`
// runs it, with the gateway on an httptest server.
type system struct {
	t       testing.TB
	srv     *server.Server
	url     string // the HTTP API
	nc      *nats.Conn
	js      jetstream.JetStream
	sim     *paysim.Provider
	logs    *testkit.Buffer
	initial map[string]int64
}

type options struct {
	services []string // default: all
	orders   orders.Config
	sim      paysim.Config
	gateway  gateway.Config
	routes   []gateway.Route
	extra    []natsfn.Service
	stock    int64 // units of each demo product; default 10
}

// sagaEvents are fast settings, so retries and backoffs take milliseconds.
func sagaEvents() natsfn.EventsConfig {
	return natsfn.EventsConfig{AckWait: 2 * time.Second, MaxDeliver: 4, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
}

func startSystem(t testing.TB, o options) *system {
	t.Helper()
	srv := testkit.StartNATS(t)
	s := &system{t: t, srv: srv, sim: testkit.Must(paysim.New(o.sim)), logs: &testkit.Buffer{}, initial: map[string]int64{}}
	s.nc = testkit.Connect(t, srv.ClientURL())
	s.js, _ = jetstream.New(s.nc)

	all := testkit.Must(functions.All(functions.Config{Orders: o.orders, Sim: s.sim,
		Payment: payment.Config{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, BreakerDelay: 200 * time.Millisecond}}))
	names := o.services
	if names == nil {
		names = functions.Names()
	}
	svcs := append([]natsfn.Service{}, o.extra...)
	for _, n := range names {
		svcs = append(svcs, all[n])
	}
	log := zerolog.New(s.logs).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	rt, err := natsfn.New(natsfn.Config{URL: srv.ClientURL(), Logger: &log, Events: sagaEvents(), Concurrency: 8}, svcs...)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Serve(t, rt)

	catalog := inventory.DemoCatalog(max(o.stock, 10))
	if _, err := inventory.Seed(context.Background(), s.js, catalog); err != nil {
		t.Fatal(err)
	}
	for _, p := range catalog {
		s.initial[p.ProductID] = p.Available
	}
	routes := o.routes
	if routes == nil {
		routes = functions.Routes()
	}
	gcfg := o.gateway
	gcfg.Logger = &log
	g, err := gateway.New(gcfg, s.nc, routes)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(g.Handler())
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON: %s", r.status, r.body)
	}
}

func (s *system) do(method, path string, body []byte, headers ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (s *system) placeOrder(token string, items ...schemas.OrderItem) string {
	s.t.Helper()
	body, _ := json.Marshal(schemas.CreateOrder{CustomerID: "c-1", Items: items, PaymentToken: token})
	r := s.do(http.MethodPost, "/orders", body)
	if r.status != http.StatusAccepted {
		s.t.Fatalf("POST /orders: %d %s", r.status, r.body)
	}
	var acc schemas.OrderAccepted
	r.json(s.t, &acc)
	return acc.OrderID
}

func (s *system) order(id string) schemas.Order {
	s.t.Helper()
	r := s.do(http.MethodGet, "/orders/"+id, nil)
	if r.status != http.StatusOK {
		s.t.Fatalf("GET /orders/%s: %d %s", id, r.status, r.body)
	}
	var o schemas.Order
	r.json(s.t, &o)
	return o
}

// settle waits until the order leaves pending and returns it.
func (s *system) settle(id string) schemas.Order {
	s.t.Helper()
	var o schemas.Order
	testkit.Eventually(s.t, 20*time.Second, "order "+id+" settles", func() bool {
		o = s.order(id)
		return o.Status != schemas.StatusPending
	})
	return o
}

func (s *system) stock() map[string]schemas.Product {
	s.t.Helper()
	list, err := inventory.Stock(context.Background(), s.js)
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]schemas.Product{}
	for _, p := range list {
		out[p.ProductID] = p
	}
	return out
}

func (s *system) charges() schemas.ChargeCountsResult {
	c, _ := s.sim.Counts(context.Background(), schemas.ChargeCounts{})
	return c
}

func item(id string, q int) schemas.OrderItem { return schemas.OrderItem{ProductID: id, Quantity: q} }

// consumerIdle reports whether a function's consumer has nothing left to
// deliver or to see acknowledged.
func (s *system) consumerIdle(durable string) bool {
	c, err := s.js.Consumer(context.Background(), "ORDERS", durable)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}
