package natsfn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/testkit"
	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/internal/wire"
)

// ticks counts a scheduled function's runs by the time each tick fell due.
type ticks struct {
	mu  sync.Mutex
	due map[time.Time]int
	by  map[string]int // runs per replica
}

func newTicks() *ticks { return &ticks{due: map[time.Time]int{}, by: map[string]int{}} }

func (k *ticks) service(replica, schedule string) natsfn.Service {
	tick := func(ctx context.Context, due time.Time) (struct{}, error) {
		k.mu.Lock()
		k.due[due]++
		k.by[replica]++
		k.mu.Unlock()
		return struct{}{}, nil
	}
	return natsfn.Service{Name: "clock", Version: "1.0.0", Functions: []*natsfn.Function{
		natsfn.Func(natsfn.FuncConfig{Name: "tick", Schedule: schedule}, tick),
	}}
}

func (k *ticks) snapshot() (runs int, distinct int, twice []time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for due, n := range k.due {
		runs += n
		if n > 1 {
			twice = append(twice, due)
		}
	}
	return runs, len(k.due), twice
}

// With three replicas, each tick runs once, in one of them.
func TestScheduleTickRunsOnceWithThreeReplicas(t *testing.T) {
	srv := startNATS(t)
	k := newTicks()
	for i := range 3 {
		startRuntime(t, srv.ClientURL(), replicaConfig(), k.service(fmt.Sprint("r", i), "@every 2s"))
	}
	eventually(t, 40*time.Second, "four ticks run", func() bool {
		_, distinct, _ := k.snapshot()
		return distinct >= 4
	})
	runs, distinct, twice := k.snapshot()
	if runs != distinct || len(twice) > 0 {
		t.Errorf("%d runs for %d ticks; ticks run twice: %v", runs, distinct, twice)
	}
	t.Logf("runs per replica: %v", k.by)

	// The schedule is in nats micro info.
	nc := connectClient(t, srv)
	reply, err := nc.Request("$SRV.INFO.clock", nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Endpoints []struct {
			Metadata map[string]string `json:"metadata"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(reply.Data, &info); err != nil || len(info.Endpoints) != 1 || info.Endpoints[0].Metadata["schedule"] != "@every 2s" {
		t.Errorf("nats micro info: %s", reply.Data)
	}
}

// A tick that falls due while no replica runs is kept in NATS and runs
// once when they are back; a once-only schedule is not set again by the
// replicas that come back.
func TestScheduleTickDueWhileEveryReplicaIsDownRunsAfterward(t *testing.T) {
	srv := startNATS(t)
	nc := connectClient(t, srv)
	js := jsFor(t, nc)
	due := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	schedule := "@at " + due.Format(time.RFC3339)
	k := newTicks()
	first := startRuntime(t, srv.ClientURL(), replicaConfig(), k.service("first", schedule))
	second := startRuntime(t, srv.ClientURL(), replicaConfig(), k.service("second", schedule))
	for _, r := range []*running{first, second} {
		r.stop()
		err := <-r.done
		r.done <- err // for the test's cleanup
	}
	if runs, _, _ := k.snapshot(); runs != 0 {
		t.Fatalf("ran %d times before its time", runs)
	}
	eventually(t, 30*time.Second, "the tick is stored while nobody runs", func() bool {
		s, err := js.Stream(context.Background(), "NATSFN_SCHEDULES")
		if err != nil {
			return false
		}
		_, err = s.GetLastMsgForSubject(context.Background(), "natsfn.tick.clock.tick")
		return err == nil
	})

	startRuntime(t, srv.ClientURL(), replicaConfig(), k.service("back", schedule))
	startRuntime(t, srv.ClientURL(), replicaConfig(), k.service("back too", schedule))
	eventually(t, 30*time.Second, "the missed tick runs", func() bool {
		runs, _, _ := k.snapshot()
		return runs >= 1
	})
	eventually(t, 10*time.Second, "its consumer has nothing left", func() bool {
		c, err := js.Consumer(context.Background(), "NATSFN_SCHEDULES", "clock_tick_natsfn_tick_clock_tick")
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	runs, distinct, _ := k.snapshot()
	k.mu.Lock()
	n := k.due[due]
	k.mu.Unlock()
	if runs != 1 || distinct != 1 || n != 1 {
		t.Errorf("%d runs for %d ticks (%d due at %s); want the one tick run once", runs, distinct, n, due)
	}
	s, _ := js.Stream(context.Background(), "NATSFN_SCHEDULES")
	if _, err := s.GetLastMsgForSubject(context.Background(), "natsfn.schedule.clock.tick"); err == nil {
		t.Error("the once-only schedule was set again after it fired")
	}
}

type stockValue struct {
	Available int `json:"available"`
}

// A watched bucket runs its function once per revision of a matching key,
// across replicas, with the key, revision, operation and value.
func TestWatchRunsOncePerRevision(t *testing.T) {
	srv := startNATS(t)
	var mu sync.Mutex
	seen := map[uint64][]natsfn.Change[stockValue]{}
	watch := func(ctx context.Context, c natsfn.Change[stockValue]) (struct{}, error) {
		mu.Lock()
		seen[c.Revision] = append(seen[c.Revision], c)
		mu.Unlock()
		return struct{}{}, nil
	}
	svc := func() natsfn.Service {
		return natsfn.Service{Name: "stockwatch", Version: "1.0.0", Buckets: []natsfn.Bucket{{Name: "stock"}},
			Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "low", Watch: "stock", WatchKeys: "product.>"}, watch)}}
	}
	startRuntime(t, srv.ClientURL(), replicaConfig(), svc())
	startRuntime(t, srv.ClientURL(), replicaConfig(), svc())

	nc := connectClient(t, srv)
	js := jsFor(t, nc)
	kv, err := js.KeyValue(context.Background(), "stock")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r1, _ := kv.Put(ctx, "product.a", []byte(`{"available":5}`))
	r2, _ := kv.Put(ctx, "product.a", []byte(`{"available":4}`))
	_, _ = kv.Put(ctx, "other.b", []byte(`{"available":1}`)) // not watched
	if err := kv.Delete(ctx, "product.a"); err != nil {
		t.Fatal(err)
	}
	last, err := kv.Put(ctx, "product.c", []byte(`{"available":9}`))
	if err != nil {
		t.Fatal(err)
	}
	if !testkit.Poll(30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen[last]) > 0 && len(seen) >= 4
	}) {
		mu.Lock()
		t.Logf("ran for revisions %v", seen)
		mu.Unlock()
		if c, err := js.Consumer(ctx, "KV_stock", wire.DurableName("stockwatch", "low", "$KV.stock.product.>")); err == nil {
			info, _ := c.Info(ctx)
			t.Logf("consumer: delivered %+v ack floor %+v pending %d ack pending %d redelivered %d", info.Delivered, info.AckFloor, info.NumPending, info.NumAckPending, info.NumRedelivered)
		} else {
			t.Log(err)
		}
		for _, d := range deadLetters(t, nc) {
			t.Logf("dead letter: %s %s %s", d.Subject, d.Class, d.Error)
		}
		t.Fatal("not every change of product.> ran within 30s")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 {
		t.Errorf("ran for %d revisions, want 4 (other.b is not watched): %v", len(seen), seen)
	}
	for rev, runs := range seen {
		if len(runs) != 1 {
			t.Errorf("revision %d ran %d times", rev, len(runs))
		}
	}
	want := map[uint64]struct {
		key, op string
		avail   int
	}{r1: {"product.a", "put", 5}, r2: {"product.a", "put", 4}, last: {"product.c", "put", 9}}
	for rev, w := range want {
		c := seen[rev][0]
		if c.Bucket != "stock" || c.Key != w.key || c.Operation != w.op || c.Value == nil || c.Value.Available != w.avail {
			t.Errorf("revision %d: %+v, want %s %s %d", rev, c, w.key, w.op, w.avail)
		}
	}
	var deletes int
	for _, runs := range seen {
		if c := runs[0]; c.Operation == "delete" && c.Key == "product.a" && c.Value == nil {
			deletes++
		}
	}
	if deletes != 1 {
		t.Errorf("want one delete of product.a without a value, got %d", deletes)
	}
	_ = jetstream.ErrKeyNotFound
}

// A replica that dies with a tick in hand (its connection gone, its ack
// never sent) has the tick redelivered to another after AckWait.
func TestATickWhoseReplicaDiesIsRedelivered(t *testing.T) {
	srv := startNATS(t)
	due := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
	schedule := "@at " + due.Format(time.RFC3339)
	var mu sync.Mutex
	runs := []string{}
	replicas := map[string]*running{}
	held := make(chan string, 1)
	svc := func(name string) natsfn.Service {
		tick := func(ctx context.Context, at time.Time) (struct{}, error) {
			mu.Lock()
			runs = append(runs, name)
			first := len(runs) == 1
			mu.Unlock()
			if first {
				held <- name
				<-ctx.Done() // hangs until its replica is gone
				return struct{}{}, ctx.Err()
			}
			return struct{}{}, nil
		}
		return natsfn.Service{Name: "clock", Version: "1.0.0", Functions: []*natsfn.Function{
			natsfn.Func(natsfn.FuncConfig{Name: "tick", Schedule: schedule}, tick)}}
	}
	cfg := replicaConfig()
	cfg.ShutdownTimeout = time.Second
	for _, name := range []string{"a", "b"} {
		r := startRuntime(t, srv.ClientURL(), cfg, svc(name))
		mu.Lock()
		replicas[name] = r
		mu.Unlock()
	}
	var victim string
	select {
	case victim = <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the tick did not run")
	}
	mu.Lock()
	replicas[victim].rt.Conn().Close() // as if the process died: no ack, no nak
	mu.Unlock()
	eventually(t, 30*time.Second, "the tick runs again in the other replica", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(runs) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	if runs[1] == victim || len(runs) != 2 {
		t.Errorf("runs %v: want the tick once more, in the replica that is alive", runs)
	}
}

// A schedule changed in the code replaces the one stored: the old timer
// stops, the new one runs.
func TestAChangedScheduleReplacesTheOld(t *testing.T) {
	srv := startNATS(t)
	k := newTicks()
	first := startRuntime(t, srv.ClientURL(), replicaConfig(), k.service("old", "@every 1s"))
	eventually(t, 20*time.Second, "the old schedule ticks", func() bool {
		_, distinct, _ := k.snapshot()
		return distinct >= 1
	})
	first.stop()
	err := <-first.done
	first.done <- err

	later := newTicks()
	startRuntime(t, srv.ClientURL(), replicaConfig(), later.service("new", "@every 1h"))
	nc := connectClient(t, srv)
	js := jsFor(t, nc)
	s, err := js.Stream(context.Background(), "NATSFN_SCHEDULES")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), "natsfn.schedule.clock.tick")
	if err != nil {
		t.Fatal(err)
	}
	every, ok := strings.CutPrefix(m.Header.Get("Nats-Schedule"), "@every ")
	if d, err := time.ParseDuration(every); !ok || err != nil || d != time.Hour {
		t.Fatalf("stored schedule %q, want @every 1h", m.Header.Get("Nats-Schedule"))
	}
	// The hourly timer does not fire in the next seconds; the old one
	// would have, every second: its ticks stop coming.
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := info.State.LastSeq
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		info, err = s.Info(context.Background())
		if err == nil && info.State.LastSeq != before {
			t.Fatalf("the stream grew from %d to %d: the old timer still fires", before, info.State.LastSeq)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if runs, _, _ := later.snapshot(); runs > 1 {
		t.Errorf("the hourly schedule ran %d times", runs)
	}
}

// A tick or a key change that fails for good is a dead letter like an
// event: the server's own headers on them (a tick's scheduler, a purge's
// roll-up) do not keep it out of the dead-letter stream, and neither is
// replayed.
func TestFailingTicksAndKeyChangesAreDeadLettered(t *testing.T) {
	srv := startNATS(t)
	refuseTick := func(ctx context.Context, due time.Time) (struct{}, error) {
		return struct{}{}, natsfn.Rule("not at %s", due)
	}
	refuseChange := func(ctx context.Context, c natsfn.Change[stockValue]) (struct{}, error) {
		return struct{}{}, natsfn.Rule("no %s of %s", c.Operation, c.Key)
	}
	startRuntime(t, srv.ClientURL(), replicaConfig(), natsfn.Service{Name: "refuser", Version: "1.0.0",
		Buckets: []natsfn.Bucket{{Name: "stock"}},
		Functions: []*natsfn.Function{
			natsfn.Func(natsfn.FuncConfig{Name: "tick", Schedule: "@every 1s"}, refuseTick),
			natsfn.Func(natsfn.FuncConfig{Name: "change", Watch: "stock"}, refuseChange),
		}})
	nc := connectClient(t, srv)
	js := jsFor(t, nc)
	kv, err := js.KeyValue(context.Background(), "stock")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "sku-1", []byte(`{"available":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(context.Background(), "sku-1"); err != nil {
		t.Fatal(err)
	}
	var tick, purge deadletter.Letter
	eventually(t, 20*time.Second, "a tick and the purge are dead letters", func() bool {
		for _, d := range deadLetters(t, nc) {
			switch {
			case d.Subject == "natsfn.tick.refuser.tick":
				tick = d
			case d.Subject == "$KV.stock.sku-1" && d.Header.Get("KV-Operation") == "PURGE":
				purge = d
			}
		}
		return tick.ID != 0 && purge.ID != 0
	})
	if tick.Class != "permanent" || !strings.Contains(tick.Error, "not at") || !strings.Contains(purge.Error, "no purge of sku-1") {
		t.Errorf("tick %+v, purge %+v", tick, purge)
	}
	d, err := deadletter.Open(context.Background(), nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []deadletter.Letter{tick, purge} {
		if deadletter.Replayable(l) || d.Replay(context.Background(), l.ID) == nil {
			t.Errorf("%s was replayed", l.Subject)
		}
	}
}
