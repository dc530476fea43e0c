package natsfn_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

type (
	orderCreatedV1 struct {
		OrderID string `json:"order_id" jsonschema:"minLength=1"`
		Qty     int    `json:"qty" jsonschema:"minimum=1"`
	}
	orderCreatedV2 struct {
		OrderID string   `json:"order_id" jsonschema:"minLength=1"`
		Items   []string `json:"items" jsonschema:"minItems=1"`
	}
	stockReserved struct {
		OrderID string `json:"order_id"`
		Version string `json:"version"`
	}
)

// eventStreams are the streams of the event tests: orders in, inventory out.
var eventStreams = []natsfn.Stream{
	{Name: "ORDERS", Subjects: []string{"orders.created.>"}},
	{Name: "INVENTORY", Subjects: []string{"inventory.reserved.>"}},
}

// inventory is the consumer under test. What reserve does depends on the
// order id, so a replica process behaves like the test's own runtime:
// "perm-*" breaks a business rule, "flaky-*" finds its dependency down,
// "once-*" fails permanently the first time only, "block-*" waits for the
// gate, anything else reserves.
type inventory struct {
	calls   atomic.Int64
	mu      sync.Mutex
	times   []time.Time
	seen    map[string]int
	gate    chan struct{}
	started chan string
}

func newInventory() *inventory {
	return &inventory{seen: map[string]int{}, gate: make(chan struct{}), started: make(chan string, 100)}
}

func (inv *inventory) reserve(ctx context.Context, orderID, version string) (stockReserved, error) {
	inv.calls.Add(1)
	inv.mu.Lock()
	inv.times = append(inv.times, time.Now())
	inv.seen[orderID]++
	n := inv.seen[orderID]
	inv.mu.Unlock()
	inv.started <- orderID
	switch {
	case strings.HasPrefix(orderID, "perm-"):
		return stockReserved{}, natsfn.Rule("order %s: product discontinued", orderID)
	case strings.HasPrefix(orderID, "flaky-"):
		return stockReserved{}, natsfn.Unavailable("stock database unreachable")
	case strings.HasPrefix(orderID, "once-") && n == 1:
		return stockReserved{}, natsfn.Rule("order %s: not yet", orderID)
	case strings.HasPrefix(orderID, "block-"):
		select {
		case <-inv.gate:
		case <-ctx.Done():
			return stockReserved{}, ctx.Err()
		}
	}
	return stockReserved{OrderID: orderID, Version: version}, nil
}

// service returns the inventory service consuming trigger, a v1 or v2 event.
func (inv *inventory) service(version, trigger string) natsfn.Service {
	var fn *natsfn.Function
	cfg := natsfn.FuncConfig{Name: "reserve", On: []string{trigger}, Result: "inventory.reserved.v1"}
	if strings.HasSuffix(trigger, ".v2") {
		fn = natsfn.Func(cfg, func(ctx context.Context, in orderCreatedV2) (stockReserved, error) {
			return inv.reserve(ctx, in.OrderID, "v2")
		})
	} else {
		fn = natsfn.Func(cfg, func(ctx context.Context, in orderCreatedV1) (stockReserved, error) {
			return inv.reserve(ctx, in.OrderID, "v1")
		})
	}
	return natsfn.Service{Name: "inventory", Version: version, Functions: []*natsfn.Function{fn}, Streams: eventStreams}
}

func (inv *inventory) callsFor(orderID string) int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.seen[orderID]
}

func jsFor(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// eventsOn returns the messages stored on subject, oldest first.
func eventsOn(t testing.TB, js jetstream.JetStream, stream, subject string) []jetstream.Msg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	n := int(info.State.Subjects[subject])
	if n == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

// settled reports whether a consumer has nothing pending or unacknowledged.
func settled(t testing.TB, js jetstream.JetStream, stream, durable string) bool {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, durable)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0
}

func deadLetters(t testing.TB, nc *nats.Conn) []deadletter.Letter {
	t.Helper()
	d, err := deadletter.Open(context.Background(), nc)
	if errors.Is(err, deadletter.ErrNoStream) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	list, err := d.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func waitStarted(t testing.TB, inv *inventory, orderID string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case id := <-inv.started:
			if id == orderID {
				return
			}
		case <-deadline:
			t.Fatalf("%s never reached the function", orderID)
		}
	}
}

var reserveV1 = wire.DurableName("inventory", "reserve", "orders.created.v1")

// atomicString is a string shared between a test and its functions.
type atomicString struct{ v atomic.Value }

func (s *atomicString) Store(v string) { s.v.Store(v) }
func (s *atomicString) Load() string   { v, _ := s.v.Load().(string); return v }
