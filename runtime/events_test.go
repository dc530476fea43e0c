package natsfn_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

func TestEventHappyPath(t *testing.T) {
	srv := startNATS(t)
	inv := newInventory()
	r := startRuntime(t, srv.ClientURL(), replicaConfig(), inv.service("1.0.0", "orders.created.v1"))
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	testkit.PublishEvent(t, js, "orders.created.v1", "ord-1", orderCreatedV1{OrderID: "ord-1", Qty: 2},
		wire.HeaderCorrelationID, "corr-ord-1", wire.HeaderTraceParent, traceparent)
	eventually(t, 10*time.Second, "the order is reserved", func() bool {
		return len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")) == 1 && settled(t, js, "ORDERS", reserveV1)
	})

	out := eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")[0]
	h := out.Headers()
	want := map[string]string{
		wire.HeaderCESpecVersion: "1.0", wire.HeaderCEType: "inventory.reserved.v1",
		wire.HeaderCESource: "natsfn/inventory/reserve", wire.HeaderContentType: "application/json",
		wire.HeaderCorrelationID: "corr-ord-1", wire.HeaderTraceParent: traceparent,
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("output header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	if h.Get(wire.HeaderCEID) == "" || h.Get(nats.MsgIdHdr) == "" || h.Get(wire.HeaderCETime) == "" {
		t.Errorf("output lacks ce-id, ce-time or Nats-Msg-Id: %v", h)
	}
	if err := natsfn.ParseEvent(h); err != nil {
		t.Errorf("output is not a valid CloudEvent: %v", err)
	}
	var body stockReserved
	if err := json.Unmarshal(out.Data(), &body); err != nil || body.OrderID != "ord-1" {
		t.Errorf("output body %s", out.Data())
	}

	// Counted in the endpoint's stats data (micro counts requests), and in
	// the event counters.
	eventually(t, 5*time.Second, "the event shows in nats micro stats", func() bool {
		ev := eventStats(t, nc, "inventory", "reserve")
		return ev.Invocations == 1 && ev.Errors == 0 && ev.ProcessingTime > 0
	})
	if req, _, _ := totals(serviceStats(t, nc, "inventory"), "reserve"); req != 0 {
		t.Errorf("micro counted %d requests; the event is not one", req)
	}
	for name, want := range map[string]float64{
		`natsfn_events_total{service="inventory",function="reserve",trigger="orders.created.v1",result="delivered"}`: 1,
		`natsfn_events_total{service="inventory",function="reserve",trigger="orders.created.v1",result="acked"}`:     1,
		`natsfn_invocations_total{service="inventory",function="reserve",outcome="ok",code="200"}`:                   1,
	} {
		if got := metricValue(t, r.rt, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	// `nats micro info` shows what the function reacts to and emits.
	reply, err := nc.Request("$SRV.INFO.inventory", nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info micro.Info
	if err := json.Unmarshal(reply.Data, &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Endpoints) != 1 || info.Endpoints[0].Metadata["triggers"] != "orders.created.v1" ||
		info.Endpoints[0].Metadata["emits"] != "inventory.reserved.v1" {
		t.Errorf("endpoints %+v: want reserve with triggers orders.created.v1, emits inventory.reserved.v1", info.Endpoints)
	}
}

func TestEventTransientErrorsBackOffThenDeadLetter(t *testing.T) {
	srv := startNATS(t)
	inv := newInventory()
	cfg := replicaConfig()
	cfg.Events.RetryMin = 200 * time.Millisecond
	r := startRuntime(t, srv.ClientURL(), cfg, inv.service("1.0.0", "orders.created.v1"))
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	testkit.PublishEvent(t, js, "orders.created.v1", "flaky-1", orderCreatedV1{OrderID: "flaky-1", Qty: 1})
	eventually(t, 15*time.Second, "the event is dead-lettered", func() bool { return len(deadLetters(t, nc)) == 1 })

	if n := inv.callsFor("flaky-1"); n != 3 {
		t.Fatalf("invoked %d times, want MaxDeliver = 3", n)
	}
	inv.mu.Lock()
	gap1, gap2 := inv.times[1].Sub(inv.times[0]), inv.times[2].Sub(inv.times[1])
	inv.mu.Unlock()
	if gap1 < 200*time.Millisecond || gap2 < 400*time.Millisecond {
		t.Errorf("retries came after %s and %s; want backoff of at least 200ms then 400ms", gap1, gap2)
	}
	dl := deadLetters(t, nc)[0]
	if dl.Class != wire.ClassExhausted || dl.Deliveries != 3 || !strings.Contains(dl.Error, "stock database unreachable") ||
		dl.Function != "reserve" || dl.Service != "inventory" || dl.Subject != "orders.created.v1" || dl.Stream != "ORDERS" {
		t.Errorf("dead letter: %+v", dl)
	}
	if dl.Header.Get(wire.HeaderCEID) != "flaky-1" || !strings.Contains(string(dl.Data), "flaky-1") {
		t.Errorf("dead letter lost the original: %v %s", dl.Header, dl.Data)
	}
	eventually(t, 5*time.Second, "the consumer settles", func() bool { return settled(t, js, "ORDERS", reserveV1) })
	for result, want := range map[string]float64{"delivered": 3, "redelivered": 2, "retried": 2, "dead_lettered": 1, "acked": 0} {
		name := `natsfn_events_total{service="inventory",function="reserve",trigger="orders.created.v1",result="` + result + `"}`
		if got := metricValue(t, r.rt, name); got != want {
			t.Errorf("%s = %v, want %v", result, got, want)
		}
	}
	if got := metricValue(t, r.rt, `natsfn_dead_letters_total{service="inventory",function="reserve",class="exhausted"}`); got != 1 {
		t.Errorf("dead letters metric = %v", got)
	}
}

func TestEventPermanentErrorsDeadLetterAtOnce(t *testing.T) {
	srv := startNATS(t)
	inv := newInventory()
	startRuntime(t, srv.ClientURL(), replicaConfig(), inv.service("1.0.0", "orders.created.v1"))
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	testkit.PublishEvent(t, js, "orders.created.v1", "perm-1", orderCreatedV1{OrderID: "perm-1", Qty: 1})
	testkit.PublishEvent(t, js, "orders.created.v1", "bad-1", map[string]any{"order_id": "bad-1", "qty": 0})
	eventually(t, 10*time.Second, "both are dead-lettered", func() bool { return len(deadLetters(t, nc)) == 2 })

	byID := map[string]deadletter.Letter{}
	for _, d := range deadLetters(t, nc) {
		byID[d.Header.Get(wire.HeaderCEID)] = d
	}
	if d := byID["perm-1"]; d.Class != wire.ClassPermanent || d.Deliveries != 1 || !strings.Contains(d.Error, "discontinued") {
		t.Errorf("business rule: %+v", d)
	}
	if d := byID["bad-1"]; d.Class != wire.ClassPermanent || d.Deliveries != 1 || !strings.Contains(d.Error, "qty") {
		t.Errorf("invalid payload: %+v", d)
	}
	if inv.callsFor("perm-1") != 1 || inv.callsFor("bad-1") != 0 {
		t.Errorf("calls: perm-1 %d (want 1), bad-1 %d (want 0: invalid input never runs)", inv.callsFor("perm-1"), inv.callsFor("bad-1"))
	}
}

func TestDeadLetterReplay(t *testing.T) {
	srv := startNATS(t)
	inv := newInventory()
	startRuntime(t, srv.ClientURL(), replicaConfig(), inv.service("1.0.0", "orders.created.v1"))
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	testkit.PublishEvent(t, js, "orders.created.v1", "once-1", orderCreatedV1{OrderID: "once-1", Qty: 1})
	eventually(t, 10*time.Second, "dead-lettered", func() bool { return len(deadLetters(t, nc)) == 1 })
	dlq, err := deadletter.Open(context.Background(), nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := dlq.Replay(context.Background(), deadLetters(t, nc)[0].ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the replayed event is processed", func() bool {
		return len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")) == 1
	})
	if n := len(deadLetters(t, nc)); n != 0 {
		t.Fatalf("%d dead letters left after replay", n)
	}
	if inv.callsFor("once-1") != 2 {
		t.Fatalf("calls = %d, want 2", inv.callsFor("once-1"))
	}
	if err := dlq.Replay(context.Background(), 999); err == nil || !strings.Contains(err.Error(), "no dead letter 999") {
		t.Fatalf("replay of a missing id: %v", err)
	}
}

func TestCrashBetweenPublishAndAckEmitsOnce(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	// A replica process stores its output, then dies before acking its input.
	victim := startReplica(t, srv.ClientURL(), "outputs-published", 0)
	testkit.PublishEvent(t, js, "orders.created.v1", "ord-crash", orderCreatedV1{OrderID: "ord-crash", Qty: 1})
	victim.waitKilled(t)
	if n := len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")); n != 1 {
		t.Fatalf("the victim stored %d outputs before dying, want 1", n)
	}

	// Another replica gets the redelivery and runs it again.
	inv := newInventory()
	startRuntime(t, srv.ClientURL(), replicaConfig(), inv.service("1.0.0", "orders.created.v1"))
	eventually(t, 15*time.Second, "the redelivered event is settled", func() bool {
		return settled(t, js, "ORDERS", reserveV1) && inv.callsFor("ord-crash") == 1
	})
	if n := len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")); n != 1 {
		t.Fatalf("%d downstream events after the crash, want exactly 1", n)
	}
}

func TestEventRedeliveredToAnotherReplicaWhenOneDies(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	victim := startReplica(t, srv.ClientURL(), "event-started", 0)
	testkit.PublishEvent(t, js, "orders.created.v1", "ord-mid", orderCreatedV1{OrderID: "ord-mid", Qty: 1})
	victim.waitKilled(t)

	inv := newInventory()
	startRuntime(t, srv.ClientURL(), replicaConfig(), inv.service("1.0.0", "orders.created.v1"))
	eventually(t, 15*time.Second, "the other replica finishes the event", func() bool {
		return len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")) == 1 && settled(t, js, "ORDERS", reserveV1)
	})
	if inv.callsFor("ord-mid") != 1 {
		t.Fatalf("surviving replica ran it %d times", inv.callsFor("ord-mid"))
	}
	if len(deadLetters(t, nc)) != 0 {
		t.Fatal("a recovered event was dead-lettered")
	}
}

func TestCrashLoopingEventReachesDeadLettersViaAdvisory(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	// Every replica that touches this event dies: no error is ever returned.
	first := startReplica(t, srv.ClientURL(), "event-started", 2)
	testkit.PublishEvent(t, js, "orders.created.v1", "ord-poison", orderCreatedV1{OrderID: "ord-poison", Qty: 1})
	first.waitKilled(t)
	second := startReplica(t, srv.ClientURL(), "event-started", 2)
	second.waitKilled(t)

	// Any replica that comes up afterwards turns the stored advisory into a
	// dead letter, fetching the original event by its sequence.
	inv := newInventory()
	cfg := replicaConfig()
	cfg.Events.MaxDeliver = 2
	startRuntime(t, srv.ClientURL(), cfg, inv.service("1.0.0", "orders.created.v1"))
	eventually(t, 15*time.Second, "the poison event is dead-lettered", func() bool { return len(deadLetters(t, nc)) == 1 })
	d := deadLetters(t, nc)[0]
	if d.Class != wire.ClassCrashed || d.Deliveries != 2 || d.Function != "reserve" || d.Subject != "orders.created.v1" ||
		d.Header.Get(wire.HeaderCEID) != "ord-poison" || !strings.Contains(string(d.Data), "ord-poison") {
		t.Fatalf("dead letter: %+v %s", d, d.Data)
	}
	if inv.callsFor("ord-poison") != 0 {
		t.Fatal("an exhausted event was delivered again")
	}
}

func TestSchemaMigrationV1ToV2(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	// The producer: a request-triggered function that publishes v1, both, or v2.
	var phase atomicString
	phase.Store("v1")
	create := natsfn.Func(natsfn.FuncConfig{Name: "create", Emits: []string{"orders.created.v1", "orders.created.v2"}}, func(ctx context.Context, in orderCreatedV1) (orderCreatedV1, error) {
		p := phase.Load()
		if p == "v1" || p == "both" {
			if err := natsfn.Emit(ctx, "orders.created.v1", in.OrderID, in); err != nil {
				return in, err
			}
		}
		if p == "v2" || p == "both" {
			v2 := orderCreatedV2{OrderID: in.OrderID, Items: []string{"sku"}}
			if err := natsfn.Emit(ctx, "orders.created.v2", in.OrderID, v2); err != nil {
				return in, err
			}
		}
		return in, nil
	})
	startRuntime(t, srv.ClientURL(), replicaConfig(), natsfn.Service{Name: "orders", Version: "1.0.0",
		Functions: []*natsfn.Function{create}, Streams: eventStreams})
	// The consumer in both versions, running side by side as during a rollout.
	inv := newInventory()
	startRuntime(t, srv.ClientURL(), replicaConfig(), inv.service("1.0.0", "orders.created.v1"))
	startRuntime(t, srv.ClientURL(), replicaConfig(), inv.service("2.0.0", "orders.created.v2"))

	order := func(id string) {
		t.Helper()
		out, err := client.Call[orderCreatedV1](context.Background(), nc, "orders.create", orderCreatedV1{OrderID: id, Qty: 1})
		if err != nil || out.OrderID != id {
			t.Fatalf("create %s: %+v %v", id, out, err)
		}
	}
	reserveV2 := wire.DurableName("inventory", "reserve", "orders.created.v2")
	settle := func(what string, n int) {
		t.Helper()
		eventually(t, 20*time.Second, what, func() bool {
			return len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")) == n &&
				settled(t, js, "ORDERS", reserveV1) && settled(t, js, "ORDERS", reserveV2)
		})
	}
	for _, p := range []struct {
		phase string
		ids   []string
	}{
		{"v1", []string{"m-1", "m-2"}},
		{"both", []string{"m-3", "m-4", "m-5"}},
		{"v2", []string{"m-6", "m-7"}},
	} {
		phase.Store(p.phase)
		for _, id := range p.ids {
			order(id)
		}
	}
	settle("every order reserved", 7)

	for i := 1; i <= 7; i++ {
		id := "m-" + string(rune('0'+i))
		if n := inv.callsFor(id); n != 1 {
			t.Errorf("%s: reserve ran %d times, want once per logical event", id, n)
		}
	}
	// Dual-published copies are one logical event: same ce-id, two versions,
	// distinct message ids so the stream keeps both.
	v1 := eventsOn(t, js, "ORDERS", "orders.created.v1")
	v2 := eventsOn(t, js, "ORDERS", "orders.created.v2")
	if len(v1) != 5 || len(v2) != 5 {
		t.Fatalf("v1 copies %d, v2 copies %d; want 5 and 5", len(v1), len(v2))
	}
	ids := map[string][]string{}
	for _, m := range append(v1, v2...) {
		id := m.Headers().Get(wire.HeaderCEID)
		ids[id] = append(ids[id], m.Headers().Get(wire.HeaderCEType)+" "+m.Headers().Get(nats.MsgIdHdr))
	}
	for _, id := range []string{"m-3", "m-4", "m-5"} {
		if len(ids[id]) != 2 || ids[id][0] == ids[id][1] {
			t.Errorf("%s: copies %v", id, ids[id])
		}
	}
	// Replaying the producer's request with the same id changes nothing.
	phase.Store("both")
	msg := nats.NewMsg("orders.create")
	msg.Data = []byte(`{"order_id":"m-3","qty":1}`)
	if _, err := nc.RequestMsg(msg, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	settle("the repeated order is absorbed", 7)
	if n := inv.callsFor("m-3"); n != 1 {
		t.Errorf("m-3 ran %d times after a repeated request", n)
	}
}

func TestShutdownDrainsEvents(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	js := jsFor(t, nc)
	inv := newInventory()
	cfg := replicaConfig()
	cfg.Concurrency = 1
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.Events.AckWait = 30 * time.Second // a redelivery would come far too late: only draining can pass
	r := startRuntime(t, srv.ClientURL(), cfg, inv.service("1.0.0", "orders.created.v1"))

	testkit.PublishEvent(t, js, "orders.created.v1", "block-1", orderCreatedV1{OrderID: "block-1", Qty: 1})
	waitStarted(t, inv, "block-1")
	testkit.PublishEvent(t, js, "orders.created.v1", "later-1", orderCreatedV1{OrderID: "later-1", Qty: 1})
	testkit.PublishEvent(t, js, "orders.created.v1", "later-2", orderCreatedV1{OrderID: "later-2", Qty: 1})

	stopped := make(chan error, 1)
	go func() { stopped <- r.shutdown(t) }()
	eventually(t, 5*time.Second, "stops taking work", func() bool { return !r.rt.Ready() })
	close(inv.gate)
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if inv.callsFor("later-1")+inv.callsFor("later-2") != 0 {
		t.Fatal("a draining replica started new events")
	}
	// The in-flight event finished and was acknowledged; the others went back
	// to the stream at once and another replica takes them.
	other := newInventory()
	close(other.gate)
	startRuntime(t, srv.ClientURL(), cfg, other.service("1.0.0", "orders.created.v1"))
	eventually(t, 10*time.Second, "everything processed exactly once", func() bool {
		return len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")) == 3 && settled(t, js, "ORDERS", reserveV1)
	})
	if other.callsFor("block-1") != 0 {
		t.Fatal("the event finished during shutdown was delivered again")
	}
}

func TestInvalidCloudEventIsDeadLettered(t *testing.T) {
	srv := startNATS(t)
	inv := newInventory()
	startRuntime(t, srv.ClientURL(), replicaConfig(), inv.service("1.0.0", "orders.created.v1"))
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	msg := nats.NewMsg("orders.created.v1")
	msg.Header.Set(wire.HeaderCESpecVersion, "0.3")
	msg.Data = []byte(`{"order_id":"x","qty":1}`)
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	// A plain message without CloudEvents headers is fine: identified by position.
	if _, err := js.Publish(context.Background(), "orders.created.v1", []byte(`{"order_id":"plain","qty":1}`)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "settled", func() bool {
		return len(deadLetters(t, nc)) == 1 && len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")) == 1
	})
	if d := deadLetters(t, nc)[0]; !strings.Contains(d.Error, "ce-specversion") {
		t.Fatalf("dead letter error: %q", d.Error)
	}
}

func TestLongWorkIsNotRedeliveredUnderItself(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	js := jsFor(t, nc)
	var calls atomic.Int64
	slow := natsfn.Func(natsfn.FuncConfig{Name: "slow", On: []string{"orders.created.v1"}},
		func(ctx context.Context, in orderCreatedV1) (orderCreatedV1, error) {
			calls.Add(1)
			select { // three times AckWait: only progress signals keep it ours
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
			}
			return in, ctx.Err()
		})
	cfg := replicaConfig() // AckWait 1s
	startRuntime(t, srv.ClientURL(), cfg, natsfn.Service{Name: "slowpoke", Version: "1.0.0",
		Functions: []*natsfn.Function{slow}, Streams: eventStreams})

	testkit.PublishEvent(t, js, "orders.created.v1", "long-1", orderCreatedV1{OrderID: "long-1", Qty: 1})
	durable := wire.DurableName("slowpoke", "slow", "orders.created.v1")
	eventually(t, 15*time.Second, "the long invocation is acknowledged", func() bool { return calls.Load() > 0 && settled(t, js, "ORDERS", durable) })
	c, err := js.Consumer(context.Background(), "ORDERS", durable)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := c.Info(context.Background())
	if calls.Load() != 1 || info.NumRedelivered != 0 {
		t.Fatalf("calls=%d redelivered=%d; a running invocation must not be redelivered", calls.Load(), info.NumRedelivered)
	}
}

// TestIdempotentFunctionRunsWithoutClaims: a function declared Idempotent
// takes no claim, so a second copy of a logical event (a replay under a
// new message id) runs it again; its output keeps its derived id and the
// stream stores it once.
func TestIdempotentFunctionRunsWithoutClaims(t *testing.T) {
	srv := startNATS(t)
	inv := newInventory()
	svc := inv.service("1.0.0", "orders.created.v1")
	svc.Functions[0].Idempotent = true
	startRuntime(t, srv.ClientURL(), replicaConfig(), svc)
	nc := connectClient(t, srv)
	js := jsFor(t, nc)

	testkit.PublishEvent(t, js, "orders.created.v1", "idem-1", orderCreatedV1{OrderID: "idem-1", Qty: 1})
	eventually(t, 10*time.Second, "the first copy runs", func() bool {
		return inv.callsFor("idem-1") == 1 && settled(t, js, "ORDERS", reserveV1)
	})
	again := nats.NewMsg("orders.created.v1")
	again.Data = []byte(`{"order_id":"idem-1","qty":1}`)
	for k, v := range map[string]string{wire.HeaderCESpecVersion: "1.0", wire.HeaderCEID: "idem-1",
		wire.HeaderCESource: "test", wire.HeaderCEType: "orders.created.v1", nats.MsgIdHdr: "idem-1|replayed"} {
		again.Header.Set(k, v)
	}
	if _, err := js.PublishMsg(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the second copy runs too", func() bool {
		return inv.callsFor("idem-1") == 2 && settled(t, js, "ORDERS", reserveV1)
	})
	if n := len(eventsOn(t, js, "INVENTORY", "inventory.reserved.v1")); n != 1 {
		t.Errorf("%d inventory.reserved.v1 events, want the derived id to keep one", n)
	}
	kv, err := js.KeyValue(context.Background(), wire.ClaimsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := kv.ListKeys(context.Background()); err == nil {
		for k := range keys.Keys() {
			t.Errorf("claim %s taken for an idempotent function", k)
		}
	}
}
