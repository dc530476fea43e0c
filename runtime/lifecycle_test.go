package natsfn_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	natsfn "github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/client"
	"github.com/natsfn/natsfn/runtime/embedded"
)

// gate holds invocations inside a function until the test lets them go, and
// records how many were inside at once.
type gate struct {
	inside, peak atomic.Int64
	entered      chan struct{}
	release      chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})} }

func (g *gate) fn(ctx context.Context, in helloIn) (helloOut, error) {
	n := g.inside.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.entered <- struct{}{}
	<-g.release
	time.Sleep(20 * time.Millisecond) // a measurable amount of work after release
	g.inside.Add(-1)
	return helloOut{Greeting: "hi " + in.Name}, nil
}

func (g *gate) waitEntered(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-g.entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d invocations started: they do not overlap", i, n)
		}
	}
}

func gatedService(g *gate, concurrency int) natsfn.Service {
	return natsfn.Service{Name: "gated", Version: "1.0.0", Functions: []*natsfn.Function{
		natsfn.Func(natsfn.FuncConfig{Name: "work", Concurrency: concurrency}, g.fn),
	}}
}

// callAll sends n requests at once and returns their errors.
func callAll(nc *nats.Conn, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, errs[i] = client.Call[helloOut](ctx, nc, "gated.work", helloIn{Name: "x"})
		})
	}
	wg.Wait()
	return errs
}

func TestConcurrentInvocationsOverlapAndStatsAddUp(t *testing.T) {
	const n = 4
	srv := startNATS(t)
	g := newGate()
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, gatedService(g, n))
	nc := connectClient(t, srv)

	done := make(chan []error)
	go func() { done <- callAll(nc, 2*n) }()
	// n are inside the function at the same time (serial handlers could
	// never do that), and the other n wait for a free reader, not more.
	g.waitEntered(t, n)
	select {
	case <-g.entered:
		t.Fatalf("more than %d invocations at once", n)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	for _, err := range <-done {
		if err != nil {
			t.Fatal(err)
		}
	}
	if g.peak.Load() != n {
		t.Fatalf("peak concurrency %d, want %d", g.peak.Load(), n)
	}
	// And `nats micro stats` counts every invocation with its real
	// duration: each spent at least 20ms working, so the sum is at least
	// 2n*20ms, which a handler that only hands work off could never report.
	if proc := statsSettle(t, nc, "gated", "work", 2*n, 0); proc < 2*n*20*time.Millisecond {
		t.Fatalf("processing time %s; want >= %s", proc, 2*n*20*time.Millisecond)
	}
}

// A request never waits behind a slow one while a reader is free: the
// replica takes each request as it comes and runs it on a free reader.
func TestAFastRequestDoesNotWaitBehindASlowOne(t *testing.T) {
	srv := startNATS(t)
	release := make(chan struct{})
	work := func(ctx context.Context, in helloIn) (helloOut, error) {
		if in.Name == "slow" {
			<-release
		}
		return helloOut{Greeting: in.Name}, nil
	}
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, natsfn.Service{Name: "mixed", Version: "1.0.0",
		Functions: []*natsfn.Function{natsfn.Func(natsfn.FuncConfig{Name: "work", Concurrency: 2}, work)}})
	nc := connectClient(t, srv)
	slow := make(chan error, 1)
	go func() {
		_, err := client.Call[helloOut](ctxFor(t, 20*time.Second), nc, "mixed.work", helloIn{Name: "slow"})
		slow <- err
	}()
	eventually(t, 5*time.Second, "the slow request holds a reader", func() bool {
		_, _, proc := totals(serviceStats(t, nc, "mixed"), "work")
		var d struct {
			InFlight int `json:"in_flight"`
		}
		for _, e := range serviceStats(t, nc, "mixed").Endpoints {
			_ = json.Unmarshal(e.Data, &d)
		}
		return proc == 0 && d.InFlight == 1
	})
	// Every fast request is answered while the slow one still runs: none
	// waits behind it (with one micro endpoint per reader and random spreading, about
	// half of them would).
	for i := range 20 {
		if _, err := client.Call[helloOut](ctxFor(t, 2*time.Second), nc, "mixed.work", helloIn{Name: "fast"}); err != nil {
			t.Fatalf("fast request %d waited behind the slow one: %v", i, err)
		}
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

func TestConcurrencyOneRunsOneAtATime(t *testing.T) {
	srv := startNATS(t)
	g := newGate()
	startRuntime(t, srv.ClientURL(), natsfn.Config{}, gatedService(g, 1))
	nc := connectClient(t, srv)

	done := make(chan []error)
	go func() { done <- callAll(nc, 3) }()
	for range 3 {
		g.waitEntered(t, 1)
		g.release <- struct{}{} // let exactly one finish
	}
	for _, err := range <-done {
		if err != nil {
			t.Fatal(err)
		}
	}
	if g.peak.Load() != 1 {
		t.Fatalf("peak concurrency %d with concurrency 1", g.peak.Load())
	}
	statsSettle(t, nc, "gated", "work", 3, 0)
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	srv := startNATS(t)
	g := newGate()
	r := startRuntime(t, srv.ClientURL(), natsfn.Config{ShutdownTimeout: 10 * time.Second}, gatedService(g, 2))
	nc := connectClient(t, srv)

	reply := make(chan error, 1)
	go func() {
		_, err := client.Call[helloOut](ctxFor(t, 10*time.Second), nc, "gated.work", helloIn{Name: "in-flight"})
		reply <- err
	}()
	g.waitEntered(t, 1)

	stopped := make(chan error, 1)
	go func() { stopped <- r.shutdown(t) }()
	// While the invocation runs, the replica stops taking work and says so.
	eventually(t, 5*time.Second, "readiness drops during shutdown", func() bool { return !r.rt.Ready() })
	select {
	case err := <-stopped:
		t.Fatalf("runtime stopped before its in-flight invocation finished: %v", err)
	default:
	}
	close(g.release)
	if err := <-reply; err != nil {
		t.Fatalf("in-flight invocation was not answered: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// Gone from discovery.
	if _, err := nc.Request("$SRV.PING.gated", nil, 200*time.Millisecond); err == nil {
		t.Fatal("service still answers PING after shutdown")
	}
}

func TestServesAgainAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := embedded.Start(embedded.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	port := srv.Addr().(*net.TCPAddr).Port
	url := srv.ClientURL()
	var calls atomic.Int64
	r := startRuntime(t, url, natsfn.Config{}, greeter(&calls))

	srv.Shutdown()
	srv.WaitForShutdown()
	eventually(t, 5*time.Second, "not ready while NATS is down", func() bool { return !r.rt.Ready() })

	srv, err = embedded.Start(embedded.Config{StoreDir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc := connectClient(t, srv)
	eventually(t, 10*time.Second, "the function serves again after the restart", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := client.Call[helloOut](ctx, nc, "greeter.hello", helloIn{Name: "again"})
		return err == nil
	})
	if !r.rt.Ready() {
		t.Fatal("not ready after reconnecting")
	}
	if got := metricValue(t, r.rt, "natsfn_nats_reconnects_total"); got < 1 {
		t.Fatalf("reconnects metric = %v", got)
	}
}

func TestAdminServer(t *testing.T) {
	srv := startNATS(t)
	var calls atomic.Int64
	r := startRuntime(t, srv.ClientURL(), natsfn.Config{AdminAddr: "127.0.0.1:0"}, greeter(&calls))
	nc := connectClient(t, srv)
	base := "http://" + r.rt.AdminAddr()

	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	for range 2 {
		if _, err := client.Call[helloOut](context.Background(), nc, "greeter.hello", helloIn{Name: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = client.Call[helloOut](context.Background(), nc, "greeter.failures", failIn{Kind: "notfound"})
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		`natsfn_invocations_total{service="greeter",function="hello",outcome="ok",code="200"} 2`,
		`natsfn_invocations_total{service="greeter",function="fail",outcome="rejected",code="404"} 1`,
		`natsfn_invocation_duration_seconds_count{service="greeter",function="hello"} 2`,
		`natsfn_invocation_duration_seconds{service="greeter",function="hello",quantile="0.99"}`,
		`natsfn_invocations_in_flight{service="greeter",function="hello"} 0`,
		`natsfn_nats_connected 1`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	eventually(t, 5*time.Second, "/readyz turns 503 when NATS is gone", func() bool {
		code, body := get(t, base+"/readyz")
		return code == 503 && strings.Contains(body, "not connected to NATS")
	})
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz while NATS is down = %d; the process is alive", code)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body := tryGet(url)
	if code == 0 {
		t.Fatal(body)
	}
	return code, body
}

func metricValue(t testing.TB, rt *natsfn.Runtime, name string) float64 {
	t.Helper()
	var sb strings.Builder
	rt.Metrics().WritePrometheus(&sb)
	for _, l := range strings.Split(sb.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var f float64
			if err := json.Unmarshal([]byte(v), &f); err == nil {
				return f
			}
		}
	}
	return 0
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
