package natsfn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	validator "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/natsfn/natsfn/internal/jsonschema"
	natsfn "github.com/natsfn/natsfn/runtime"
)

// benchClients is how many callers send requests at once in the benchmarks.
const benchClients = 16

// benchWork is one kind of function body, run the same way by the
// baseline and by the runtime.
type benchWork struct {
	name string
	// validate: the baseline also checks the input against the schema, as a
	// hand-written service that honours its contract must.
	validate bool
	// wait: time spent waiting on a downstream call (a database, an API).
	wait func()
	// concurrent: the baseline is a hand-written concurrent handler (a
	// goroutine per request on a plain queue subscription) rather than a
	// bare micro handler, which runs one request at a time; the runtime
	// function then gets as many readers as there are callers.
	concurrent bool
	// concurrency of the runtime function otherwise: 1 is like for like
	// with micro's one handler at a time; 0 the runtime's default (8).
	concurrency int
}

var benchWorks = []benchWork{
	{name: "echo", concurrency: 1},
	{name: "validated", validate: true, concurrency: 1},
	{name: "validated-default-concurrency", validate: true},
	{name: "downstream-1ms", validate: true, concurrent: true, wait: func() { time.Sleep(time.Millisecond) }},
	{name: "mixed-10pct-50ms", validate: true, concurrent: true, wait: func() {
		if rand.IntN(10) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}},
}

// BenchmarkInvoke compares a function served by the runtime with the same
// work written by hand on nats.go, on the same embedded server, with the
// same 16 concurrent callers: a bare micro handler for CPU-bound work, a
// goroutine-per-request handler for work that waits. Throughput ratio
// runtime/bare = bare ns/op ÷ runtime ns/op (`task bench` prints it);
// p50-ms and p99-ms are request latencies; cpu-ns/op is the CPU the whole
// process (server, callers, handlers) spent per request.
func BenchmarkInvoke(b *testing.B) {
	srv := startNATS(b)
	schema, err := jsonschema.For(reflect.TypeFor[helloIn]())
	if err != nil {
		b.Fatal(err)
	}
	doc, _ := validator.UnmarshalJSON(bytes.NewReader(schema))
	c := validator.NewCompiler()
	c.AssertFormat()
	_ = c.AddResource("hello.json", doc)
	sch, err := c.Compile("hello.json")
	if err != nil {
		b.Fatal(err)
	}
	// handle is the hand-written body: validate if asked, decode, work, answer.
	handle := func(w benchWork, data []byte, respond func([]byte), fail func(string)) {
		if w.validate {
			v, err := validator.UnmarshalJSON(bytes.NewReader(data))
			if err == nil {
				err = sch.Validate(v)
			}
			if err != nil {
				fail(err.Error())
				return
			}
		}
		var in helloIn
		if err := json.Unmarshal(data, &in); err != nil {
			fail(err.Error())
			return
		}
		if w.wait != nil {
			w.wait()
		}
		out, _ := json.Marshal(helloOut{Greeting: "hello " + in.Name})
		respond(out)
	}

	bareConn := connectClient(b, srv)
	bare, err := micro.AddService(bareConn, micro.Config{Name: "bare", Version: "1.0.0"})
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Stop()
	var fns []*natsfn.Function
	for _, w := range benchWorks {
		if w.concurrent {
			_, err = bareConn.QueueSubscribe("bare."+w.name, "q", func(m *nats.Msg) {
				go handle(w, m.Data, func(out []byte) { _ = m.Respond(out) }, func(e string) {
					_ = m.RespondMsg(&nats.Msg{Header: nats.Header{micro.ErrorCodeHeader: {"400"}, micro.ErrorHeader: {e}}})
				})
			})
		} else {
			err = bare.AddEndpoint(w.name, micro.HandlerFunc(func(req micro.Request) {
				handle(w, req.Data(), func(out []byte) { _ = req.Respond(out) }, func(e string) { _ = req.Error("400", e, nil) })
			}), micro.WithEndpointSubject("bare."+w.name))
		}
		if err != nil {
			b.Fatal(err)
		}
		cfg := natsfn.FuncConfig{Name: w.name, Concurrency: w.concurrency}
		if w.concurrent {
			cfg.Concurrency = benchClients
		}
		fns = append(fns, natsfn.Func(cfg, func(_ context.Context, in helloIn) (helloOut, error) {
			if w.wait != nil {
				w.wait()
			}
			return helloOut{Greeting: "hello " + in.Name}, nil
		}))
	}
	startRuntime(b, srv.ClientURL(), natsfn.Config{Logger: discardLogger()},
		natsfn.Service{Name: "fn", Version: "1.0.0", Functions: fns})

	for _, w := range benchWorks {
		b.Run(w.name+"/bare", func(b *testing.B) { benchRequests(b, srv.ClientURL(), "bare."+w.name) })
		b.Run(w.name+"/runtime", func(b *testing.B) { benchRequests(b, srv.ClientURL(), "fn."+w.name) })
	}
}

// benchRequests sends b.N requests from benchClients goroutines spread over
// four client connections, and reports latency percentiles and CPU.
func benchRequests(b *testing.B, url, subject string) {
	conns := make([]*nats.Conn, 4)
	for i := range conns {
		nc, err := nats.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		conns[i] = nc
	}
	body := []byte(`{"name":"ada","times":2}`)
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, benchClients/runtimeProcs()))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		nc := conns[next.Add(1)%int64(len(conns))]
		mine := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t := time.Now()
			msg, err := nc.Request(subject, body, 5*time.Second)
			if err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
			if msg.Header.Get(micro.ErrorCodeHeader) != "" {
				b.Errorf("error reply: %s", msg.Header.Get(micro.ErrorHeader))
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	reportLatencies(b, lat)
}

// reportLatencies adds p50-ms and p99-ms to a benchmark's results.
func reportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// cpuTime is the CPU this process (server, clients and handlers alike) has
// used: on a shared 2-core machine, CPU per request is steadier than time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
