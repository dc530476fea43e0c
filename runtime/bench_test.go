package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	validator "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/natsfn/natsfn/runtime"
)

// benchClients is how many callers send requests at once in the benchmarks.
const benchClients = 16

// benchWork is one kind of function body, run the same way by the bare
// handler and by the runtime.
type benchWork struct {
	name string
	// validate: the bare handler also checks the input against the schema,
	// as a hand-written service that honours its contract must.
	validate bool
	// wait: time spent waiting on a downstream call (a database, an API).
	wait time.Duration
}

var benchWorks = []benchWork{
	{name: "echo"},
	{name: "validated", validate: true},
	{name: "downstream-1ms", validate: true, wait: time.Millisecond},
}

// BenchmarkInvoke compares a function served by the runtime with a bare
// nats.go micro handler doing the same work, on the same embedded server,
// with the same 16 concurrent callers. Throughput ratio runtime/bare = bare
// ns/op ÷ runtime ns/op (`task bench` prints it). cpu-ns/op is the CPU the
// whole process (server, callers, handlers) spent per request.
func BenchmarkInvoke(b *testing.B) {
	srv := startNATS(b)
	schema, err := runtime.SchemaFor(reflect.TypeFor[helloIn]())
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

	bareConn := connectClient(b, srv)
	bare, err := micro.AddService(bareConn, micro.Config{Name: "bare", Version: "1.0.0"})
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Stop()
	var fns []*runtime.Function
	for _, w := range benchWorks {
		err = bare.AddEndpoint(w.name, micro.HandlerFunc(func(req micro.Request) {
			if w.validate {
				v, err := validator.UnmarshalJSON(bytes.NewReader(req.Data()))
				if err == nil {
					err = sch.Validate(v)
				}
				if err != nil {
					_ = req.Error("400", err.Error(), nil)
					return
				}
			}
			var in helloIn
			if err := json.Unmarshal(req.Data(), &in); err != nil {
				_ = req.Error("400", err.Error(), nil)
				return
			}
			time.Sleep(w.wait)
			_ = req.RespondJSON(helloOut{Greeting: "hello " + in.Name})
		}), micro.WithEndpointSubject("bare."+w.name))
		if err != nil {
			b.Fatal(err)
		}
		fns = append(fns, runtime.Func(runtime.FuncConfig{Name: w.name}, func(_ context.Context, in helloIn) (helloOut, error) {
			time.Sleep(w.wait)
			return helloOut{Greeting: "hello " + in.Name}, nil
		}))
	}
	startRuntime(b, srv.ClientURL(), runtime.Config{Logger: discardLogger()},
		runtime.Service{Name: "fn", Version: "1.0.0", Functions: fns})

	for _, w := range benchWorks {
		b.Run(w.name+"/bare", func(b *testing.B) { benchRequests(b, srv.ClientURL(), "bare."+w.name) })
		b.Run(w.name+"/runtime", func(b *testing.B) { benchRequests(b, srv.ClientURL(), "fn."+w.name) })
	}
}

// benchRequests sends b.N requests from benchClients goroutines spread over
// four client connections.
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
	b.SetParallelism(max(1, benchClients/runtimeProcs()))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
	b.RunParallel(func(pb *testing.PB) {
		nc := conns[next.Add(1)%int64(len(conns))]
		for pb.Next() {
			msg, err := nc.Request(subject, body, 5*time.Second)
			if err != nil {
				b.Error(err)
				return
			}
			if msg.Header.Get(micro.ErrorCodeHeader) != "" {
				b.Errorf("error reply: %s", msg.Data)
				return
			}
		}
	})
}

// cpuTime is the CPU this process (server, clients and handlers alike) has
// used: on a shared 2-core machine, CPU per request is steadier than time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
