package natsfn_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// The concurrency designs the runtime could use to serve one function with
// N invocations at once per process, measured side by side on one server
// with the same callers (see the package doc for the decision). Each
// design answers on "design.<name>"; the work is the same function.
//
//   - dispatcher: the design before this one. A subscription on the public
//     subject hands each request to a free slot, a micro endpoint on a
//     private subject, by publishing it again (a second connection, as
//     allow_responses needs): micro times every invocation, nothing waits
//     behind a busy slot, but every request crosses the server twice.
//   - lanes: N micro endpoints on the public subject in one queue group.
//     The server spreads requests at random; one that lands on a busy lane
//     waits behind it (head-of-line) although another lane may be free.
//   - readers: what the runtime does. One queue subscription on the public
//     subject; N goroutines each take the next request from it as soon as
//     they are free. No head-of-line blocking, nothing between the
//     subscription and the work, one row in `nats micro stats`; micro's
//     dispatch cannot do this (it runs one handler at a time per
//     subscription), so the runtime answers the service protocol itself.
type design struct {
	name  string
	start func(b *testing.B, url string, n int, work func()) func()
}

var designs = []design{
	{"dispatcher", startDispatcherDesign},
	{"lanes", startLanesDesign},
	{"readers", startReadersDesign},
}

// designWorks: no work, 1 ms of waiting, and mixed latency (one in ten
// invocations waits 50 ms).
var designWorks = []struct {
	name string
	work func()
}{
	{"echo", func() {}},
	{"wait-1ms", func() { time.Sleep(time.Millisecond) }},
	{"mixed-10pct-50ms", func() {
		if rand.IntN(10) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}},
}

// BenchmarkConcurrencyDesigns reports throughput and p50/p99 latency per
// design, work and concurrency N, with 16 callers.
func BenchmarkConcurrencyDesigns(b *testing.B) {
	srv := startNATS(b)
	for _, w := range designWorks {
		for _, n := range []int{8, 16} {
			for _, d := range designs {
				b.Run(fmt.Sprintf("%s/n=%d/%s", w.name, n, d.name), func(b *testing.B) {
					stop := d.start(b, srv.ClientURL(), n, w.work)
					defer stop()
					benchRequests(b, srv.ClientURL(), "design."+d.name)
				})
			}
		}
	}
}

func connectDesign(b *testing.B, url string) *nats.Conn {
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	return nc
}

func startDispatcherDesign(b *testing.B, url string, n int, work func()) func() {
	nc, dc := connectDesign(b, url), connectDesign(b, url)
	svc, err := micro.AddService(nc, micro.Config{Name: "design_dispatcher", Version: "1.0.0"})
	if err != nil {
		b.Fatal(err)
	}
	free := make(chan int, n)
	for i := range n {
		free <- i
		err := svc.AddEndpoint("work", micro.HandlerFunc(func(req micro.Request) {
			work()
			_ = req.Respond([]byte(`{"greeting":"hi"}`))
			free <- i
		}), micro.WithEndpointSubject(fmt.Sprintf("_DESIGN.%d", i)), micro.WithEndpointQueueGroupDisabled())
		if err != nil {
			b.Fatal(err)
		}
	}
	sub, err := dc.QueueSubscribe("design.dispatcher", "q", func(m *nats.Msg) {
		i := <-free
		_ = dc.PublishMsg(&nats.Msg{Subject: fmt.Sprintf("_DESIGN.%d", i), Reply: m.Reply, Data: m.Data})
	})
	if err != nil {
		b.Fatal(err)
	}
	_ = nc.Flush()
	_ = dc.Flush()
	return func() { _ = sub.Unsubscribe(); _ = svc.Stop(); nc.Close(); dc.Close() }
}

func startLanesDesign(b *testing.B, url string, n int, work func()) func() {
	nc := connectDesign(b, url)
	svc, err := micro.AddService(nc, micro.Config{Name: "design_lanes", Version: "1.0.0"})
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		err := svc.AddEndpoint("work", micro.HandlerFunc(func(req micro.Request) {
			work()
			_ = req.Respond([]byte(`{"greeting":"hi"}`))
		}), micro.WithEndpointSubject("design.lanes"))
		if err != nil {
			b.Fatal(err)
		}
	}
	_ = nc.Flush()
	return func() { _ = svc.Stop(); nc.Close() }
}

func startReadersDesign(b *testing.B, url string, n int, work func()) func() {
	nc := connectDesign(b, url)
	sub, err := nc.QueueSubscribeSync("design.readers", "q")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				m, err := sub.NextMsg(time.Hour)
				if err != nil {
					return
				}
				work()
				_ = m.Respond([]byte(`{"greeting":"hi"}`))
			}
		})
	}
	_ = nc.Flush()
	return func() { _ = sub.Unsubscribe(); wg.Wait(); nc.Close() }
}
